//! Vectors of the searchable texts, nearest-neighbour search over them, and their disk cache.
//!
//! Embedding a few thousand texts takes tens of seconds on two cores, so vectors are computed
//! once per (model, texts) pair — the texts carry the kernel's tracepoints and fields, so a new
//! kernel build means new vectors — and kept in `cache_dir`. A cache file that fails its
//! checksum is recomputed, never trusted. Concurrent daemons share one computation (file lock).
use std::fs::File;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::embedding::{Embedder, DIMS};

const MAGIC: &[u8; 8] = b"KGEMB01\0";

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
            .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
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

/// Where the vectors came from, for the log and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    Cache,
    Computed,
    /// The cache file was unreadable or corrupt; recomputed and rewritten.
    Rebuilt,
}

/// The cache file for these texts under this model.
pub fn cache_file(cache_dir: &Path, embedder: &Embedder, texts: &[String]) -> PathBuf {
    let mut h = Sha256::new();
    h.update(embedder.fingerprint.as_bytes());
    for t in texts {
        h.update(t.as_bytes());
        h.update([0]);
    }
    cache_dir.join(format!(
        "embeddings-{}.bin",
        &hex::encode(h.finalize())[..20]
    ))
}

/// Vectors for `texts`: from the cache when it is intact, else computed and cached.
pub fn load_or_embed(
    embedder: &Embedder,
    texts: &[String],
    cache_dir: &Path,
) -> Result<(VectorIndex, Provenance), String> {
    let file = cache_file(cache_dir, embedder, texts);
    if let Some(index) = read_cache(&file, texts.len()) {
        return Ok((index, Provenance::Cache));
    }
    let _ = std::fs::create_dir_all(cache_dir);
    // Another daemon may be computing the same vectors: wait for it, then read its result.
    let lock = File::create(cache_dir.join("embeddings.lock"))
        .ok()
        .and_then(|f| nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok());
    if let Some(index) = read_cache(&file, texts.len()) {
        return Ok((index, Provenance::Cache));
    }
    let existed = file.exists();
    let vectors: Vec<f32> = embedder.embed(texts)?.into_iter().flatten().collect();
    let index = VectorIndex { vectors };
    if let Err(e) = write_cache(&file, &index) {
        tracing::warn!(
            "cannot cache embeddings in {}: {e}; they will be computed again next start",
            file.display()
        );
    }
    drop(lock);
    Ok((
        index,
        if existed {
            Provenance::Rebuilt
        } else {
            Provenance::Computed
        },
    ))
}

fn read_cache(file: &Path, expected: usize) -> Option<VectorIndex> {
    let bytes = std::fs::read(file).ok()?;
    let index = decode(&bytes, expected);
    if index.is_none() {
        tracing::warn!(
            "embedding cache {} is corrupt; recomputing it",
            file.display()
        );
    }
    index
}

fn decode(bytes: &[u8], expected: usize) -> Option<VectorIndex> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum || !body.starts_with(MAGIC) {
        return None;
    }
    let rest = &body[MAGIC.len()..];
    let (count, floats) = rest.split_at_checked(8)?;
    let count = u64::from_le_bytes(count.try_into().ok()?) as usize;
    if count != expected || floats.len() != count * DIMS * 4 {
        return None;
    }
    let vectors = floats
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(VectorIndex { vectors })
}

fn encode(index: &VectorIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + index.vectors.len() * 4 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(index.len() as u64).to_le_bytes());
    for v in &index.vectors {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

fn write_cache(file: &Path, index: &VectorIndex) -> std::io::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, encode(index))?;
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
        let bytes = encode(&index);
        assert_eq!(decode(&bytes, 3).map(|i| i.len()), Some(3));
        assert!(
            decode(&bytes, 4).is_none(),
            "a different corpus size is rejected"
        );
        let mut corrupt = bytes.clone();
        corrupt[20] ^= 1;
        assert!(decode(&corrupt, 3).is_none(), "a flipped bit is rejected");
        assert!(decode(b"short", 0).is_none());
    }
}
