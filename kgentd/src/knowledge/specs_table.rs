//! One loader for the specs DB's tables of records (`[[flag]]` in `flags.toml`, `[[value]]`
//! in `values.toml`): the file parses into its one array of tables, or into nothing. Each
//! table's own module has a test that its shipped file parses, so "nothing" never ships.
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

/// The records of the array of tables `table` in `text`; none when the file does not parse
/// or has no such table.
pub fn records<T: DeserializeOwned>(text: &str, table: &str) -> Vec<T> {
    toml::from_str::<BTreeMap<String, Vec<T>>>(text)
        .ok()
        .and_then(|mut tables| tables.remove(table))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Row {
        name: String,
    }

    #[test]
    fn records_of_one_table_or_none() {
        let text = "[[row]]\nname = \"a\"\n\n[[row]]\nname = \"b\"\n";
        let rows: Vec<Row> = records(text, "row");
        assert_eq!(rows.len(), 2);
        assert!(records::<Row>(text, "other").is_empty());
        assert!(records::<Row>("[[row]]\nnome = \"typo\"\n", "row").is_empty());
    }
}
