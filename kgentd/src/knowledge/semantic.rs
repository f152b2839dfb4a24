//! Vectors of the searchable texts, nearest-neighbour search over them, and their disk cache.
//!
//! Embedding a few thousand texts takes a minute or two on two cores, so each text's vector is
//! computed once per model and kept in `cache_dir`, keyed by the text's hash: the texts carry
//! the kernel's tracepoints and fields, so a new kernel build embeds only what changed. A cache
//! file that fails its checksum is recomputed, never trusted. Concurrent daemons share one
//! computation (file lock).
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::embedding::{Embedder, DIMS};

const MAGIC: &[u8; 8] = b"KGEMB02\0";

/// Unit vectors, one per document, in one flat array.
#[derive(Debug, Clone, Default)]
pub struct VectorIndex {
    vectors: Vec<f32>,
}

impl VectorIndex {
    pub fn len(&self) -> usize {
        self.vectors.len() / DIMS
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// The best `k` documents by cosine similarity to the unit vector `query`, best first.
    pub fn top(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if query.len() != DIMS {
            return Vec::new();
        }
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .chunks_exact(DIMS)
            .enumerate()
            .map(|(i, v)| (i, dot(v, query)))
            .collect();
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > k && k > 0 {
            scored.select_nth_unstable_by(k - 1, by_score);
            scored.truncate(k);
        }
        scored.sort_by(by_score);
        scored.truncate(k);
        scored
    }

    /// Splits off the documents from `at` on (several corpora share one cache file).
    pub fn split_off(&mut self, at: usize) -> Self {
        Self {
            vectors: self.vectors.split_off((at * DIMS).min(self.vectors.len())),
        }
    }
}

/// Dot product in eight independent lanes, so the compiler can use SIMD (a single running sum
/// must be added in order and is not vectorised). `DIMS` is a multiple of eight.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum()
}

/// Where the vectors came from, for the log and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Every vector was in the cache.
    Cache,
    /// `n` texts were new (a new kernel build adds or changes a few): embedded and cached.
    Computed(usize),
    /// The cache file was corrupt; every vector was recomputed and the file rewritten.
    Rebuilt(usize),
}

/// The cache file of one model: vectors keyed by the SHA-256 of their text, so a kernel update
/// re-embeds only the texts that changed.
pub fn cache_file(cache_dir: &Path, embedder: &Embedder) -> PathBuf {
    cache_dir.join(format!("embeddings-{}.bin", &embedder.fingerprint[..20]))
}

type Key = [u8; 32];

fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

/// Vectors for `texts`: from the cache where present and intact, the rest computed and added.
pub fn load_or_embed(
    embedder: &Embedder,
    texts: &[String],
    cache_dir: &Path,
) -> Result<(VectorIndex, Provenance), String> {
    let file = cache_file(cache_dir, embedder);
    let (cached, corrupt) = read_cache(&file);
    if let Some(index) = assemble(&cached, texts) {
        return Ok((index, Provenance::Cache));
    }
    let _ = std::fs::create_dir_all(cache_dir);
    // Another daemon may be computing the same vectors: wait for it, then use its result.
    let lock = File::create(cache_dir.join("embeddings.lock"))
        .ok()
        .and_then(|f| nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok());
    let (mut cached, _) = read_cache(&file);
    if let Some(index) = assemble(&cached, texts) {
        return Ok((index, Provenance::Cache));
    }
    let missing: Vec<String> = texts
        .iter()
        .filter(|t| !cached.contains_key(&key(t)))
        .cloned()
        .collect();
    for (text, vector) in missing.iter().zip(embedder.embed(&missing)?) {
        cached.insert(key(text), vector);
    }
    if let Err(e) = write_cache(&file, &cached) {
        tracing::warn!(
            "cannot cache embeddings in {}: {e}; they will be computed again next start",
            file.display()
        );
    }
    drop(lock);
    let index = assemble(&cached, texts).ok_or("embedding returned too few vectors")?;
    Ok((
        index,
        if corrupt {
            Provenance::Rebuilt(missing.len())
        } else {
            Provenance::Computed(missing.len())
        },
    ))
}

/// The vectors of `texts` in order, if the cache has them all.
fn assemble(cached: &HashMap<Key, Vec<f32>>, texts: &[String]) -> Option<VectorIndex> {
    let mut vectors = Vec::with_capacity(texts.len() * DIMS);
    for t in texts {
        vectors.extend_from_slice(cached.get(&key(t))?);
    }
    Some(VectorIndex { vectors })
}

/// The cached vectors and whether a cache file existed but was corrupt.
fn read_cache(file: &Path) -> (HashMap<Key, Vec<f32>>, bool) {
    let Ok(bytes) = std::fs::read(file) else {
        return (HashMap::new(), false);
    };
    match decode(&bytes) {
        Some(map) => (map, false),
        None => {
            tracing::warn!(
                "embedding cache {} is corrupt; recomputing it",
                file.display()
            );
            (HashMap::new(), true)
        }
    }
}

const RECORD: usize = 32 + DIMS * 4;

fn decode(bytes: &[u8]) -> Option<HashMap<Key, Vec<f32>>> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let records = body.strip_prefix(MAGIC.as_slice())?;
    if records.len() % RECORD != 0 {
        return None;
    }
    Some(
        records
            .chunks_exact(RECORD)
            .filter_map(|r| {
                let (k, v) = r.split_at(32);
                let vector = v
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                Some((k.try_into().ok()?, vector))
            })
            .collect(),
    )
}

fn encode(cached: &HashMap<Key, Vec<f32>>) -> Vec<u8> {
    let mut keys: Vec<&Key> = cached.keys().collect();
    keys.sort();
    let mut out = Vec::with_capacity(MAGIC.len() + keys.len() * RECORD + 32);
    out.extend_from_slice(MAGIC);
    for k in keys {
        out.extend_from_slice(k);
        for v in &cached[k] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

fn write_cache(file: &Path, cached: &HashMap<Key, Vec<f32>>) -> std::io::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, encode(cached))?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(i: usize) -> Vec<f32> {
        let mut v = vec![0.0; DIMS];
        v[i] = 1.0;
        v
    }

    #[test]
    fn finds_the_nearest_vector_and_round_trips_through_the_cache_format() {
        let index = VectorIndex {
            vectors: [unit(0), unit(1), unit(2)].concat(),
        };
        assert_eq!(index.top(&unit(1), 1)[0].0, 1);
        let texts: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let cached: HashMap<Key, Vec<f32>> = texts
            .iter()
            .zip([unit(0), unit(1), unit(2)])
            .map(|(t, v)| (key(t), v))
            .collect();
        let bytes = encode(&cached);
        let decoded = decode(&bytes).expect("round trip");
        let again = assemble(&decoded, &texts).expect("all present");
        assert_eq!(again.top(&unit(2), 1)[0].0, 2);
        assert!(
            assemble(&decoded, &["d".to_owned()]).is_none(),
            "unknown text"
        );
        let mut corrupt = bytes.clone();
        corrupt[20] ^= 1;
        assert!(decode(&corrupt).is_none(), "a flipped bit is rejected");
        assert!(decode(b"short").is_none());
    }
}
