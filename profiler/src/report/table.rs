//! Aligned text columns for the terminal report.

/// How a column lines up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Numbers: padded on the left.
    Right,
    /// Names: padded on the right.
    Left,
}

/// A table: a header row and data rows, rendered with each column as wide
/// as its widest cell, two spaces between columns, lines indented by two.
pub(crate) struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles and alignments.
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing trailing cells are blank.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Appends the rendered table to `out`.
    pub(crate) fn render(&self, out: &mut String) {
        let widths = self.widths();
        let header = self
            .columns
            .iter()
            .map(|(title, _)| title.to_string())
            .collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::from(" ");
            for (i, (_, align)) in self.columns.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push(' ');
                let padding = " ".repeat(pad);
                match align {
                    Align::Right => line.extend([padding.as_str(), cell]),
                    Align::Left => line.extend([cell, padding.as_str()]),
                }
                line.push(' ');
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(t, _)| t.chars().count())
            .collect();
        for cells in &self.rows {
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        widths
    }
}
