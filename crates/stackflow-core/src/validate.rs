//! Rules for names and identifiers that every path (API, CLI, import)
//! must apply alike.

use crate::errors::Refusal;

/// Usernames: 1–64 characters of lowercase letters, digits, `.`, `_`, `-`,
/// starting with a letter or digit (they appear in URLs and email replies).
pub fn username(username: &str) -> Result<(), Refusal> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && username.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Refusal::invalid(
            "username",
            "1–64 characters: lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        ))
    }
}

/// An email address, checked only as far as a mail relay would need.
pub fn email(email: &str) -> Result<(), Refusal> {
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(Refusal::invalid("email", "not an email address"))
    }
}

/// Names of groups, CIs and templates: they are path segments, so no `/`,
/// no control characters, no surrounding spaces, at most 200 characters.
pub fn name(field: &str, name: &str) -> Result<(), Refusal> {
    if name.trim().is_empty() || name.trim() != name {
        Err(Refusal::invalid(
            field,
            "required, without leading or trailing spaces",
        ))
    } else if name.chars().count() > 200 {
        Err(Refusal::invalid(field, "at most 200 characters"))
    } else if name.chars().any(|c| c.is_control() || c == '/') {
        Err(Refusal::invalid(
            field,
            "may not contain `/` or control characters",
        ))
    } else {
        Ok(())
    }
}

/// A CI class (built-in or user-defined): 1–64 characters of lowercase
/// letters, digits and `_`.
pub fn ci_class(class: &str) -> Result<(), Refusal> {
    let ok = !class.is_empty()
        && class.len() <= 64
        && class
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Refusal::invalid(
            "class",
            "1–64 characters of lowercase letters, digits and `_`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_that_would_break_paths_or_mail_are_refused() {
        assert!(username("alice.b-2").is_ok());
        for bad in ["", "Alice", "-x", "a b", &"x".repeat(65)] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
        assert!(email("a@example.com").is_ok());
        assert!(
            email("a@localhost").is_err() && email("@x.y").is_err() && email("a b@x.y").is_err()
        );
        assert!(name("name", "orders-db-prod").is_ok());
        assert!(
            name("name", " padded").is_err()
                && name("name", "a/b").is_err()
                && name("name", "a\tb").is_err()
        );
        assert!(ci_class("virtual_machine").is_ok() && ci_class("VM").is_err());
    }
}
