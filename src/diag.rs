//! Load-time diagnostics: every problem found in a file, with its place, so
//! that `iamgate check`, start-up and reload can report all of them at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The file as a whole (missing, unreadable, a cross-file conflict).
    File,
    /// A syntax error: 1-based line and column.
    Line { line: usize, column: usize },
    /// An error of meaning inside a JSON or TOML document: a JSON pointer
    /// such as `/Statement/2/Condition/IpAddress/g:SourceIp`.
    Pointer(String),
}

/// One problem found while loading a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub place: Place,
    pub message: String,
    /// What to do about it, when there is something obvious to say.
    pub hint: Option<String>,
    /// A warning does not stop a load; an error does.
    pub warning: bool,
}

impl Diagnostic {
    pub fn error(file: &Path, place: Place, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            place,
            message: message.into(),
            hint: None,
            warning: false,
        }
    }

    pub fn warning(file: &Path, place: Place, message: impl Into<String>) -> Self {
        Diagnostic {
            warning: true,
            ..Diagnostic::error(file, place, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:column`, `file#/json/pointer` or `file`.
    pub fn location(&self) -> String {
        let file = self.file.display();
        match &self.place {
            Place::File => format!("{file}"),
            Place::Line { line, column } => format!("{file}:{line}:{column}"),
            Place::Pointer(p) => format!("{file}#{p}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.warning { "warning" } else { "error" };
        write!(f, "{}: {level}: {}", self.location(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Turn a `toml` deserialisation error into a diagnostic with line:column.
pub fn from_toml_error(file: &Path, source: &str, err: &toml::de::Error) -> Diagnostic {
    let place = match err.span() {
        Some(span) => {
            let (line, column) = line_column(source, span.start);
            Place::Line { line, column }
        }
        None => Place::File,
    };
    Diagnostic::error(file, place, toml_message(source, err))
}

/// The error's message; toml leaves it empty for some syntax errors (a NUL
/// or another control character in a comment), so then name the character
/// at the error's place rather than print `error: ` and nothing.
fn toml_message(source: &str, err: &toml::de::Error) -> String {
    if !err.message().is_empty() {
        return err.message().to_string();
    }
    let at = err.span().and_then(|span| source.get(span.start..));
    match at.and_then(|rest| rest.chars().next()) {
        Some(c) => format!("invalid TOML: unexpected character {c:?}"),
        None => "invalid TOML".to_string(),
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// True when any diagnostic is an error (not just a warning).
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| !d.warning)
}
