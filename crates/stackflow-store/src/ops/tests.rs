// Unit tests of the shared helpers; included last (items may not follow a test module).

#[cfg(test)]
mod dialect_tests {
    use super::{ACTIVE_STATES_SQL, like_pattern};
    use stackflow_core::conflict::ACTIVE_STATES;

    #[test]
    fn like_patterns_match_user_text_literally() {
        assert_eq!(like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }

    /// The SQL spelling of the active states (it must match the partial
    /// indexes word for word) says what the core's rule says.
    #[test]
    fn the_active_states_in_sql_are_the_cores() {
        let listed: Vec<String> = ACTIVE_STATES
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(
            ACTIVE_STATES_SQL,
            format!("state IN ({})", listed.join(", "))
        );
    }
}
