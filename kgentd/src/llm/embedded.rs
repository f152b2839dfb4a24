//! llama.cpp in-process (through `llama-cpp-2`): the default backend, fully offline.
//!
//! The model loads lazily on the first request (its SHA-256 checked first, so a corrupt or
//! wrong file is refused with a clear error and can be replaced without restarting), stays
//! loaded, and is used by one request at a time: inference already uses every core, so
//! interleaving would only slow each request down.
use std::io::Read;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use sha2::{Digest, Sha256};

use super::{Backend, ChatRequest, Completion, LlmError};
use crate::config::ModelConfig;

/// llama.cpp's global state may be initialised once per process.
static LLAMA: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn llama() -> Result<&'static LlamaBackend, LlmError> {
    LLAMA
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(false),
            );
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Unavailable(format!("cannot initialise llama.cpp: {e}")))
}

/// The loaded model and up to [`SESSIONS`] contexts whose KV caches are kept between requests:
/// a new prompt goes to the context that already holds its longest prefix and only decodes what
/// differs. Retries of one request share everything up to the repair message; different
/// requests share the system prompt. An ask alternates between prompt families (query drafts,
/// then free-form bpftrace, each with its own system prompt): with one context each switch
/// decoded the whole prompt again (1,700 tokens, about 25 s on this 2-core host).
struct Loaded {
    /// Leaked on purpose: the model lives as long as the daemon, and the context borrows it.
    model: &'static LlamaModel,
    /// Most recently used last.
    sessions: Vec<Session>,
}

/// Contexts kept (one per prompt family: the bpftrace, C and query drafts and the plan each
/// open with their own system prompt); each costs its KV cache (about 120 MB for a 1.5B model
/// at 4,096 tokens). With two, a request moving from a query draft to a free-form one evicted
/// the other family and paid its whole prompt again (f32: "1472 prompt (0 from cache)", 21 s
/// of an 80 s budget).
const SESSIONS: usize = 4;

/// A prompt sharing fewer tokens than this with every kept context (no more than the chat
/// template's header) starts a context of its own while there is room.
const MIN_SHARED: usize = 32;

struct Session {
    ctx: LlamaContext<'static>,
    /// Tokens whose keys and values are in the context's cache, from position 0.
    cached: Vec<LlamaToken>,
}

pub struct EmbeddedBackend {
    path: PathBuf,
    sha256: String,
    threads: i32,
    context_tokens: u32,
    /// The loaded model, taken out while a request runs; the lock serialises inference.
    state: tokio::sync::Mutex<Option<Loaded>>,
    loaded: AtomicBool,
}

impl EmbeddedBackend {
    pub fn new(cfg: &ModelConfig) -> Self {
        let threads = if cfg.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get() as i32)
                .unwrap_or(2)
        } else {
            cfg.threads as i32
        };
        Self {
            path: cfg.path.clone(),
            sha256: cfg.sha256.to_lowercase(),
            threads,
            context_tokens: cfg.context_tokens,
            state: tokio::sync::Mutex::new(None),
            loaded: AtomicBool::new(false),
        }
    }

    async fn load(&self) -> Result<Loaded, LlmError> {
        let path = self.path.clone();
        let sha = self.sha256.clone();
        tokio::task::spawn_blocking(move || load_model(&path, &sha))
            .await
            .map_err(|e| LlmError::Unavailable(format!("model loader crashed: {e}")))?
    }
}

fn load_model(path: &std::path::Path, want_sha: &str) -> Result<Loaded, LlmError> {
    let fix = "run `bash setup.sh --no-build` to fetch and verify it, or set model.path in /etc/kgent/kgentd.toml";
    let mut file = std::fs::File::open(path).map_err(|e| {
        LlmError::Unavailable(format!(
            "cannot open the model {}: {e}; {fix}",
            path.display()
        ))
    })?;
    if !want_sha.is_empty() {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| {
                LlmError::Unavailable(format!("cannot read the model {}: {e}", path.display()))
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let got = hex::encode(hasher.finalize());
        if got != want_sha {
            return Err(LlmError::Unavailable(format!(
                "the model {} is corrupt or not the expected file (SHA-256 {got}, expected {want_sha}); refusing to load it; {fix}",
                path.display()
            )));
        }
    }
    let backend = llama()?;
    let model =
        LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|e| {
            LlmError::Unavailable(format!("llama.cpp cannot load {}: {e}", path.display()))
        })?;
    Ok(Loaded {
        model: Box::leak(Box::new(model)),
        sessions: Vec::new(),
    })
}

fn new_session(
    model: &'static LlamaModel,
    threads: i32,
    context_tokens: u32,
) -> Result<Session, LlmError> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context_tokens))
        .with_n_batch(N_BATCH)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let ctx = model
        .new_context(llama()?, params)
        .map_err(|e| LlmError::Unavailable(format!("cannot create a llama.cpp context: {e}")))?;
    Ok(Session {
        ctx,
        cached: Vec::new(),
    })
}

const N_BATCH: u32 = 512;

fn prompt_tokens(model: &LlamaModel, req: &ChatRequest) -> Result<Vec<LlamaToken>, LlmError> {
    let template = model
        .chat_template(None)
        .map_err(|e| LlmError::Unavailable(format!("the model has no chat template: {e}")))?;
    let chat = req
        .messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.as_str().into(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LlmError::Request(format!("message contains a NUL byte: {e}")))?;
    let prompt = model
        .apply_chat_template(&template, &chat, true)
        .map_err(|e| LlmError::Request(format!("cannot apply the chat template: {e}")))?;
    let vocab = model.vocab();
    Ok(vocab.tokenize(prompt.as_bytes(), vocab.should_add_bos(), true))
}

fn generate(
    loaded: &mut Loaded,
    req: &ChatRequest,
    threads: i32,
    context_tokens: u32,
) -> Result<Completion, LlmError> {
    let model = loaded.model;
    let tokens = prompt_tokens(model, req)?;
    if tokens.is_empty() {
        return Err(LlmError::Request("empty prompt".into()));
    }
    let budget = tokens.len() + req.max_tokens as usize;
    if budget > context_tokens as usize {
        return Err(LlmError::Request(format!(
            "prompt of {} tokens plus {} for the reply exceeds the context of {context_tokens} tokens",
            tokens.len(),
            req.max_tokens
        )));
    }
    let session = match pick_session(&loaded.sessions, &tokens) {
        Some(i) => loaded.sessions.remove(i),
        None => new_session(model, threads, context_tokens)?,
    };
    // On any error the session is dropped: its cache may no longer match `cached`.
    let (completion, session) = run(model, session, &tokens, req)?;
    loaded.sessions.push(session);
    Ok(completion)
}

/// Which kept context a prompt goes to (an index of `sessions`), or None for a new one: the
/// one sharing the longest prefix with it; when none shares more than the template's header, a
/// new context while fewer than [`SESSIONS`] are kept, else the least recently used.
fn pick_session(sessions: &[Session], tokens: &[LlamaToken]) -> Option<usize> {
    let shared = |s: &Session| {
        s.cached
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count()
    };
    pick_by_shared(&sessions.iter().map(shared).collect::<Vec<_>>())
}

/// [`pick_session`] over the tokens each kept context shares with the prompt, least recently
/// used first.
fn pick_by_shared(shared: &[usize]) -> Option<usize> {
    let best = shared
        .iter()
        .enumerate()
        // The last of equals: the most recently used.
        .max_by_key(|(_, n)| **n)
        .map(|(i, n)| (i, *n));
    match best {
        Some((i, n)) if n >= MIN_SHARED => Some(i),
        _ if shared.len() < SESSIONS => None,
        _ => Some(0),
    }
}

fn run(
    model: &'static LlamaModel,
    mut s: Session,
    tokens: &[LlamaToken],
    req: &ChatRequest,
) -> Result<(Completion, Session), LlmError> {
    let decode_err = |e: llama_cpp_2::DecodeError| LlmError::Request(format!("decode: {e}"));
    let add_err =
        |e: llama_cpp_2::llama_batch::BatchAddError| LlmError::Request(format!("batch: {e}"));
    let started = Instant::now();
    // Reuse the cached prefix; at least the last prompt token is decoded again for its logits.
    let common = s
        .cached
        .iter()
        .zip(tokens)
        .take_while(|(a, b)| a == b)
        .count()
        .min(tokens.len() - 1);
    s.ctx
        .clear_kv_cache_seq(Some(0), Some(common as u32), None)
        .map_err(|e| LlmError::Request(format!("kv cache: {e}")))?;
    s.cached.truncate(common);
    let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
    let mut pos = common as i32;
    let past_deadline = || req.deadline.is_some_and(|d| Instant::now() >= d);
    let mut stopped = false;
    for chunk in tokens[common..].chunks(N_BATCH as usize) {
        // Checked between chunks: the cache stays consistent with `cached`, so the context is
        // kept for the next request.
        if past_deadline() {
            stopped = true;
            break;
        }
        batch.clear();
        for t in chunk {
            let last = pos as usize + 1 == tokens.len();
            batch.add(*t, pos, &[0], last).map_err(add_err)?;
            pos += 1;
        }
        s.ctx.decode(&mut batch).map_err(decode_err)?;
        s.cached.extend_from_slice(chunk);
    }
    let prompt_ms = started.elapsed().as_millis() as u64;

    let mut sampler = ReplySampler::new(model, req)?;
    let vocab = model.vocab();
    let gen_started = Instant::now();
    let mut out = Vec::new();
    let mut generated = 0u64;
    while !stopped && generated < req.max_tokens as u64 {
        if past_deadline() {
            stopped = true;
            break;
        }
        let token = sampler.sample(&s.ctx, batch.n_tokens() - 1)?;
        if vocab.is_eog(token) {
            break;
        }
        generated += 1;
        out.extend_from_slice(&vocab.token_to_piece(token, false, None));
        if closes_code_block(&out) {
            break;
        }
        batch.clear();
        batch.add(token, pos, &[0], true).map_err(add_err)?;
        pos += 1;
        s.ctx.decode(&mut batch).map_err(decode_err)?;
        s.cached.push(token);
    }
    if req.grammar.is_some() {
        tracing::info!(
            fallbacks = sampler.fallbacks,
            grammar_ms = sampler.grammar_time.as_millis() as u64,
            tokens = generated,
            "constrained reply"
        );
    }
    let completion = Completion {
        text: String::from_utf8_lossy(&out).into_owned(),
        prompt_tokens: tokens.len() as u64,
        completion_tokens: generated,
        prompt_ms,
        generation_ms: gen_started.elapsed().as_millis() as u64,
        cached_prompt_tokens: common as u64,
        stopped_at_deadline: stopped,
    };
    Ok((completion, s))
}

/// Picks each reply token: the backend's sampling chain, constrained by the request's grammar
/// when there is one.
///
/// Applying a grammar to all ~150k candidates on every step is slow, so the unconstrained choice
/// is tried first and kept when the grammar accepts it; only when it does not is the grammar
/// applied to every candidate (what llama.cpp's own `common_sampler` does).
struct ReplySampler {
    grammar: Option<LlamaSampler>,
    chain: LlamaSampler,
    /// Steps where the unconstrained choice broke the grammar, and time spent in the grammar.
    fallbacks: u32,
    grammar_time: std::time::Duration,
}

impl ReplySampler {
    fn new(model: &LlamaModel, req: &ChatRequest) -> Result<Self, LlmError> {
        let grammar = match &req.grammar {
            Some(g) => Some(
                LlamaSampler::grammar(model, g, "root")
                    .map_err(|e| LlmError::Request(format!("the reply grammar is invalid: {e}")))?,
            ),
            None => None,
        };
        let chain = if req.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.95, 1),
                LlamaSampler::temp(req.temperature),
                LlamaSampler::dist(req.seed),
            ])
        };
        Ok(Self {
            grammar,
            chain,
            fallbacks: 0,
            grammar_time: std::time::Duration::ZERO,
        })
    }

    fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> Result<LlamaToken, LlmError> {
        let Some(grammar) = &mut self.grammar else {
            return Ok(self.chain.sample(ctx, idx));
        };
        let mut free = ctx.token_data_array_ith(idx);
        free.apply_sampler(&mut self.chain);
        let picked = free.selected_token();
        let t0 = Instant::now();
        let token = match picked {
            Some(t) if grammar_allows(grammar, t) => t,
            _ => {
                self.fallbacks += 1;
                let mut constrained = ctx.token_data_array_ith(idx);
                constrained.apply_sampler(grammar);
                constrained.apply_sampler(&mut self.chain);
                constrained
                    .selected_token()
                    .ok_or_else(|| LlmError::Request("the grammar allows no next token".into()))?
            }
        };
        grammar.accept(token);
        self.grammar_time += t0.elapsed();
        self.chain.accept(token);
        Ok(token)
    }
}

/// Whether `grammar` lets a model with this GGUF file's vocabulary write `text` as a complete
/// reply. Loads only the vocabulary. For tests and for diagnosing a grammar.
pub fn grammar_accepts(
    model_path: &std::path::Path,
    grammar: &str,
    text: &str,
) -> Result<bool, LlmError> {
    let backend = llama()?;
    let model = LlamaModel::load_from_file(
        backend,
        model_path,
        &LlamaModelParams::default().with_vocab_only(true),
    )
    .map_err(|e| {
        LlmError::Unavailable(format!(
            "llama.cpp cannot load {}: {e}",
            model_path.display()
        ))
    })?;
    let mut sampler = LlamaSampler::grammar(&model, grammar, "root")
        .map_err(|e| LlmError::Request(format!("the grammar is invalid: {e}")))?;
    let vocab = model.vocab();
    for token in vocab.tokenize(text.as_bytes(), false, false) {
        if !grammar_allows(&mut sampler, token) {
            return Ok(false);
        }
        sampler.accept(token);
    }
    Ok(grammar_allows(&mut sampler, vocab.eos()))
}

fn grammar_allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    one.apply_sampler(grammar);
    one.data.first().is_some_and(|d| d.logit().is_finite())
}

/// The agent asks for exactly one fenced code block; once it is closed, the rest of the reply
/// is chatter the agent would discard, so generation stops there.
fn closes_code_block(out: &[u8]) -> bool {
    let text = String::from_utf8_lossy(out);
    text.matches("```").count() >= 2 && text.trim_end().ends_with("```")
}

#[async_trait::async_trait]
impl Backend for EmbeddedBackend {
    fn kind(&self) -> &'static str {
        "embedded"
    }
    fn model(&self) -> String {
        self.path.display().to_string()
    }
    fn constrains_decoding(&self) -> bool {
        true
    }
    fn loaded(&self) -> bool {
        self.loaded.load(Ordering::SeqCst)
    }
    async fn complete(&self, req: ChatRequest) -> Result<Completion, LlmError> {
        let mut state = self.state.lock().await;
        let mut loaded = match state.take() {
            Some(l) => l,
            None => {
                let l = self.load().await?;
                self.loaded.store(true, Ordering::SeqCst);
                l
            }
        };
        let (threads, ctx) = (self.threads, self.context_tokens);
        let (loaded, result) = tokio::task::spawn_blocking(move || {
            let r = generate(&mut loaded, &req, threads, ctx);
            (loaded, r)
        })
        .await
        .map_err(|e| {
            // The model went down with the task; the next request loads it again.
            self.loaded.store(false, Ordering::SeqCst);
            LlmError::Request(format!("generation crashed: {e}"))
        })?;
        *state = Some(loaded);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::{closes_code_block, pick_by_shared, MIN_SHARED};

    #[test]
    fn a_prompt_goes_to_the_context_holding_its_prefix() {
        // None kept: a new one.
        assert_eq!(pick_by_shared(&[]), None);
        // One kept sharing only the template's header: a second context.
        assert_eq!(pick_by_shared(&[4]), None);
        // The one sharing most; among equals the most recently used (last).
        assert_eq!(pick_by_shared(&[600, 40]), Some(0));
        assert_eq!(pick_by_shared(&[600, 600]), Some(1));
        // Room for another: a new one.
        assert_eq!(pick_by_shared(&[4, MIN_SHARED - 1]), None);
        // All kept and none shares: the least recently used is reused.
        let full = vec![4; super::SESSIONS];
        assert_eq!(pick_by_shared(&full), Some(0));
    }

    #[test]
    fn stops_after_the_first_closed_block() {
        assert!(!closes_code_block(b"```bpftrace\nBEGIN {}"));
        assert!(closes_code_block(b"```bpftrace\nBEGIN {}\n```"));
        assert!(!closes_code_block(b"Here:"));
    }
}
