//! Errors in files a user gave, shown the way cargo shows them: the `FILE:LINE:COL: message` line that tools read,
//! then the offending line with a caret under the span, what was expected and found, and a `help:` line when a
//! fix is known.
//!
//! ```text
//! my.toml:7:8: `acks` must be "all", "1" or "0"
//!   |
//! 7 | acks = 1
//!   |        ^ expected a string, found an integer
//!   |
//! help: write `acks = "1"`
//! ```

use eosim_model::ScenarioError;

/// One error with its place in a file, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The first line: `FILE:LINE:COL: message`, or a message with no place.
    pub headline: String,
    /// 1-based line of the snippet; 0 with no snippet.
    pub line: usize,
    /// 1-based column of the caret.
    pub column: usize,
    /// The offending line as written; empty with no snippet.
    pub source_line: String,
    /// How many characters the caret underlines.
    pub width: usize,
    /// Written after the caret: what was expected and found.
    pub label: String,
    /// A fix, when one is known.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A message with neither place nor fix.
    pub fn plain(headline: impl Into<String>) -> Diagnostic {
        let (line, column, source_line, width, label) = (0, 0, String::new(), 0, String::new());
        Diagnostic { headline: headline.into(), line, column, source_line, width, label, help: None }
    }

    /// A `FILE:LINE:COL: message` error in `text`, with a one-character caret at the place.
    pub fn in_text(file: &str, text: &str, line: usize, column: usize, message: &str) -> Diagnostic {
        let headline = format!("{file}:{line}:{column}: {message}");
        let source_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("").to_string();
        let width = usize::from(!source_line.is_empty());
        Diagnostic { headline, line, column, source_line, width, label: String::new(), help: None }
    }

    /// An error that displays as `FILE:LINE:COL: message` (any reader's), with the snippet of `text` at its place;
    /// an error without that prefix keeps no snippet.
    pub fn located(file: &str, text: &str, error: &str) -> Diagnostic {
        let place = error.strip_prefix(file).and_then(|rest| rest.strip_prefix(':'));
        let mut numbers = place.into_iter().flat_map(|rest| rest.splitn(3, ':'));
        let line = numbers.next().and_then(|line| line.parse::<usize>().ok());
        let column = numbers.next().and_then(|column| column.parse::<usize>().ok());
        match (line, column, numbers.next().and_then(|message| message.strip_prefix(' '))) {
            (Some(line), Some(column), Some(message)) if line > 0 => {
                Diagnostic::in_text(file, text, line, column, message)
            }
            _ => Diagnostic::plain(error),
        }
    }

    /// The same with a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// The text to print after `error: `, ending without a newline.
    pub fn render(&self) -> String {
        let mut out = self.headline.clone();
        if self.width > 0 && !self.source_line.is_empty() {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            // A tab is one character wide for the caret, so it is shown as one space.
            let shown = self.source_line.replace('\t', " ");
            let pad = " ".repeat(self.column.saturating_sub(1));
            let carets = "^".repeat(self.width);
            let label = if self.label.is_empty() { String::new() } else { format!(" {}", self.label) };
            out.push_str(&format!("\n{gutter} |\n{number} | {shown}\n{gutter} | {pad}{carets}{label}"));
            if self.help.is_some() {
                out.push_str(&format!("\n{gutter} |"));
            }
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("\nhelp: {help}"));
        }
        out
    }
}

impl From<&ScenarioError> for Diagnostic {
    fn from(error: &ScenarioError) -> Diagnostic {
        Diagnostic {
            headline: error.to_string(),
            line: error.line,
            column: error.column,
            source_line: error.snippet.source_line.clone(),
            width: error.snippet.width,
            label: error.snippet.label.clone(),
            help: error.snippet.help.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippet_puts_the_caret_under_the_column_and_help_last() {
        let mut diagnostic = Diagnostic::in_text("my.toml", "a = 2\nacks = 1\n", 2, 8, "`acks` must be \"all\"");
        diagnostic.label = "expected a string, found an integer".into();
        let text = diagnostic.with_help("write `acks = \"1\"`").render();
        let expected = "my.toml:2:8: `acks` must be \"all\"\n  |\n2 | acks = 1\n  |        ^ expected a string, found \
                        an integer\n  |\nhelp: write `acks = \"1\"`";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_located_error_gets_its_snippet_back() {
        let diagnostic = Diagnostic::located("r.json", "{\n  \"seed\": ]\n}", "r.json:2:11: expected value");
        assert_eq!((diagnostic.line, diagnostic.column), (2, 11));
        assert!(diagnostic.render().ends_with("2 |   \"seed\": ]\n  |           ^"), "{}", diagnostic.render());
        assert_eq!(Diagnostic::located("r.json", "", "r.json: cannot read").render(), "r.json: cannot read");
    }

    #[test]
    fn without_a_place_only_the_headline_and_help_remain() {
        assert_eq!(Diagnostic::plain("x: no such file").render(), "x: no such file");
        assert_eq!(Diagnostic::plain("a").with_help("b").render(), "a\nhelp: b");
        assert_eq!(Diagnostic::in_text("f", "", 3, 1, "m").render(), "f:3:1: m");
    }
}
