//! Printing command results: Kafka's fixed-width tables, JSON, and the small formatting
//! rules the tools share (missing values as `-`, topic ids in Kafka's base64).
//!
//! Owns: `pad` (Java's `%-Ns`: left-justified, at least N wide, never cut), `Table` (a
//! Kafka-tool table: each row's columns padded to per-column widths, the last column bare),
//! and writing to stdout so that a closed pipe (`| head`) ends the command quietly.

use std::io::Write;

use base64::Engine;

/// Kafka's placeholder for a value that does not apply.
pub const MISSING: &str = "-";

/// Java's `String.format("%-Ns", text)`.
pub fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        text.to_string()
    } else {
        format!("{text}{}", " ".repeat(width - len))
    }
}

/// One column's width rule: at least `min`, grown to the longest cell when `grows`.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub min: usize,
    pub grows: bool,
}

impl Column {
    /// A column as wide as its longest cell, and at least `min` (Kafka's `max(15, len)`).
    pub const fn growing(min: usize) -> Column {
        Column { min, grows: true }
    }

    /// A column of a fixed minimum width (`%-10s`): longer cells push later columns right.
    pub const fn fixed(min: usize) -> Column {
        Column { min, grows: false }
    }
}

/// A table laid out as Kafka's tools print theirs: cells joined by one space, each padded
/// to its column's width, and the last cell unpadded unless `pad_last`.
pub struct Table {
    columns: Vec<Column>,
    pad_last: bool,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str], columns: &[Column]) -> Table {
        Table { columns: columns.to_vec(), pad_last: false, rows: vec![header.iter().map(|h| h.to_string()).collect()] }
    }

    /// Pads the last column too (Kafka's `%-15s` at the end of a format).
    pub fn pad_last(mut self) -> Table {
        self.pad_last = true;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The widths the columns get: growing columns fit their longest cell (header
    /// excluded, as Kafka sizes from the data).
    fn widths(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let longest =
                    self.rows[1..].iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0);
                if column.grows {
                    column.min.max(longest)
                } else {
                    column.min
                }
            })
            .collect()
    }

    /// Each row as one line (no newline).
    pub fn lines(&self) -> Vec<String> {
        let widths = self.widths();
        self.rows
            .iter()
            .map(|row| {
                let last = row.len().saturating_sub(1);
                row.iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        if i == last && !self.pad_last {
                            cell.clone()
                        } else {
                            pad(cell, widths.get(i).copied().unwrap_or(0))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

/// Writes to stdout. A reader that went away (EPIPE) is not an error worth a message.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A JSON document on stdout, pretty-printed, newline-terminated.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    print(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// A note for the operator on stderr (a warning, not a failure).
pub fn note(text: &str) {
    eprintln!("{text}");
}

/// A topic id as Kafka prints it: URL-safe base64 of the 16 bytes, without padding.
pub fn topic_id(id: &uuid::Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// `-` for an absent value, the value otherwise.
pub fn or_missing<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| MISSING.to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_is_javas_left_justified_minimum_width() {
        assert_eq!(pad("ab", 5), "ab   ");
        assert_eq!(pad("abcdef", 3), "abcdef");
        assert_eq!(pad("", 2), "  ");
    }

    #[test]
    fn table_matches_kafkas_offsets_layout() {
        // kafka-consumer-groups --describe: "%-15s %-15s %-10s %-15s ... %s" with growing
        // GROUP/TOPIC columns.
        let mut table = Table::new(
            &["GROUP", "TOPIC", "PARTITION", "CLIENT-ID"],
            &[Column::growing(15), Column::growing(15), Column::fixed(10), Column::fixed(0)],
        );
        table.row(vec!["g1".into(), "a-rather-long-topic-name".into(), "0".into(), "c".into()]);
        assert_eq!(
            table.lines(),
            vec![
                "GROUP           TOPIC                    PARTITION  CLIENT-ID",
                "g1              a-rather-long-topic-name 0          c",
            ]
        );
    }

    #[test]
    fn pad_last_pads_the_final_column() {
        let mut table = Table::new(&["TOPIC", "STATUS"], &[Column::growing(5), Column::fixed(8)]).pad_last();
        table.row(vec!["t".into(), "ok".into()]);
        assert_eq!(table.lines(), vec!["TOPIC STATUS  ", "t     ok      "]);
    }

    #[test]
    fn topic_ids_print_as_kafka_does() {
        // Kafka's Uuid.toString of the id 00000000-0000-0001-0000-000000000001.
        let id = uuid::Uuid::from_u64_pair(1, 1);
        assert_eq!(topic_id(&id), "AAAAAAAAAAEAAAAAAAAAAQ");
    }
}
