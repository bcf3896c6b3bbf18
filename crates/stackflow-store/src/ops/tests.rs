// Unit tests of the shared helpers; included last (items may not follow a test module).

#[cfg(test)]
mod dialect_tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_match_user_text_literally() {
        assert_eq!(like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }
}
