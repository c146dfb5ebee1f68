//! What is wrong with a catalogue file, and where, as `FILE:ROW:COLUMN: reason`.

use std::fmt;

use super::columns::letter;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Spreadsheet row number (the header is row 1), when the problem has one.
    pub row: Option<u64>,
    /// Spreadsheet column letter, when the problem has one.
    pub column: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn file(message: impl Into<String>) -> Self {
        Self {
            row: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn row(row: u64, message: impl Into<String>) -> Self {
        Self {
            row: Some(row),
            column: None,
            message: message.into(),
        }
    }

    pub fn cell(row: u64, column: usize, message: impl Into<String>) -> Self {
        Self {
            row: Some(row),
            column: Some(letter(column)),
            message: message.into(),
        }
    }

    /// The line a user reads: `catalogue.csv:7:K: price "12,5" …`.
    pub fn located(&self, file: &str) -> Located<'_> {
        Located {
            file: file.to_string(),
            problem: self,
        }
    }
}

pub struct Located<'a> {
    file: String,
    problem: &'a Problem,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(row) = self.problem.row {
            write!(f, ":{row}")?;
        }
        if let Some(column) = &self.problem.column {
            write!(f, ":{column}")?;
        }
        write!(f, ": {}", self.problem.message)
    }
}
