//! The one line an error leaves on the terminal: the error, then each cause it does not already say.

/// Many of our errors print their cause in their own message (`{path}: {source}`) and also hand it
/// on as their `source()`; anyhow's `{:#}` would then print the operating system's words twice.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::one_line;
    use anyhow::Context;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct SaysItsCause {
        path: String,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading the weights")]
    struct HidesItsCause {
        source: std::io::Error,
    }

    fn not_found() -> std::io::Error {
        std::fs::File::open("/no/such/file/for/lgd").unwrap_err()
    }

    #[test]
    fn a_cause_the_message_already_holds_is_not_repeated() {
        let error = anyhow::Error::new(SaysItsCause { path: "a.toml".into(), source: not_found() });
        assert_eq!(format!("{error:#}"), format!("a.toml: {0}: {0}", not_found()));
        assert_eq!(one_line(&error), format!("a.toml: {}", not_found()));
    }

    #[test]
    fn causes_the_messages_do_not_hold_are_all_kept_in_order() {
        let error = Err::<(), _>(HidesItsCause { source: not_found() }).context("loading the teacher").unwrap_err();
        assert_eq!(one_line(&error), format!("loading the teacher: reading the weights: {}", not_found()));
        let wrapped =
            Err::<(), _>(SaysItsCause { path: "b.pt".into(), source: not_found() }).context("export").unwrap_err();
        assert_eq!(one_line(&wrapped), format!("export: b.pt: {}", not_found()));
    }
}
