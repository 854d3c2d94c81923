//! Columns of human output (`executions list`, `executions show`,
//! `inspect`): every cell starts where its header starts, whatever the
//! widths of ids, names and numbers.
//!
//! Cells are guest or journal text, so each goes through
//! [`terminal::line`] on its way in: no control character, line break or
//! bidi override reaches the table, which would otherwise split a cell
//! over several lines or reorder the columns on screen. comfy-table is
//! built without its `tty` feature, so it never asks for the terminal's
//! width: nothing is wrapped or cut, on a terminal or in a pipe.

use comfy_table::{ContentArrangement, Table, presets};

use crate::terminal;

/// Two spaces between columns, none before the first.
const GAP: (u16, u16) = (0, 2);

/// A table of one header row and single-line rows.
pub(crate) struct Columns {
    table: Table,
}

impl Columns {
    /// A table with these column headers.
    pub(crate) fn new(header: &[&str]) -> Self {
        let mut table = Table::new();
        table
            .load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header.to_vec());
        for column in table.column_iter_mut() {
            column.set_padding(GAP);
        }
        Self { table }
    }

    /// Adds a row, one cell per header; each cell is made safe to show.
    pub(crate) fn row<const N: usize>(&mut self, cells: [&str; N]) {
        let cells: Vec<String> = cells
            .iter()
            .map(|cell| terminal::line(cell).into_owned())
            .collect();
        self.table.add_row(cells);
    }

    /// The header line, then one line per row, without trailing spaces.
    /// Each row is one line, since no cell holds a line break.
    pub(crate) fn lines(&self) -> impl Iterator<Item = String> {
        self.table.lines().map(|line| line.trim_end().to_owned())
    }

    /// Prints the table on stdout.
    pub(crate) fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }
}
