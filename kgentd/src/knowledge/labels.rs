//! Retrieval quality: the hand-labelled queries of `specs-db/retrieval-labels.toml` (how users
//! ask → attach points that answer) and recall@k of a catalog search mode over them. Used by
//! `kgentd bench` and the retrieval-quality test; never by the serving path.
use serde::Deserialize;

use super::catalog::{Catalog, Retrieval};

pub const LABELS: &str = include_str!("../../../specs-db/retrieval-labels.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub query: String,
    /// Any one of these in the top k counts as a hit.
    pub expect: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelFile {
    label: Vec<Label>,
}

pub fn parse(text: &str) -> Result<Vec<Label>, String> {
    toml::from_str::<LabelFile>(text)
        .map(|f| f.label)
        .map_err(|e| format!("specs-db/retrieval-labels.toml: {}", e.message()))
}

#[derive(Debug, Clone)]
pub struct Recall {
    pub mode: Retrieval,
    pub k: usize,
    pub hits: usize,
    pub total: usize,
    /// Queries with no expected entry in the top k, with what came first instead.
    pub misses: Vec<(String, Vec<String>)>,
}

impl Recall {
    pub fn value(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.hits as f64 / self.total as f64
        }
    }
}

/// recall@k of `mode` over `labels`.
pub fn recall(
    catalog: &Catalog,
    labels: &[Label],
    mode: Retrieval,
    k: usize,
) -> Result<Recall, String> {
    let mut hits = 0;
    let mut misses = Vec::new();
    for l in labels {
        let top: Vec<String> = catalog
            .search_with(&l.query, k, mode, &|_| true)?
            .into_iter()
            .map(|(e, _)| e.name.clone())
            .collect();
        if top.iter().any(|n| l.expect.contains(n)) {
            hits += 1;
        } else {
            misses.push((l.query.clone(), top));
        }
    }
    Ok(Recall {
        mode,
        k,
        hits,
        total: labels.len(),
        misses,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_labels_parse_and_are_enough() {
        let labels = super::parse(super::LABELS).expect("labels");
        assert!(labels.len() >= 50, "{} labels", labels.len());
        assert!(labels.iter().all(|l| !l.expect.is_empty()));
    }
}
