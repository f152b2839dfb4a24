//! Language-model backends behind one trait.
//!
//! `embedded` runs llama.cpp in-process (the default, fully offline), `openai` talks to any
//! OpenAI-compatible chat-completions endpoint, `scripted` replays given replies so the agent loop
//! can be tested deterministically. The agent sees only [`Backend`]; this module knows nothing of
//! eBPF.
mod embedded;
mod openai;
mod scripted;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use embedded::{grammar_accepts, EmbeddedBackend};
pub use openai::OpenAiBackend;
pub use scripted::ScriptedBackend;

use crate::config::{BackendKind, ModelConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    /// 0 = greedy.
    pub temperature: f32,
    pub seed: u32,
    /// A GBNF grammar the reply must follow (root rule `root`). Backends that cannot constrain
    /// decoding ignore it; the agent's checks run on every reply regardless.
    pub grammar: Option<String>,
    /// When the reply must be over: a backend stops reading the prompt or generating at this
    /// instant and returns what it has with `Completion::stopped_at_deadline` set (the ask's
    /// wall-time budget, so no draft runs past it).
    pub deadline: Option<std::time::Instant>,
}

#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Time spent reading the prompt and generating, when the backend measures them.
    pub prompt_ms: u64,
    pub generation_ms: u64,
    /// Prompt tokens served from the backend's cache instead of being read again.
    pub cached_prompt_tokens: u64,
    /// The request's deadline passed before the reply was complete: `text` is cut short.
    pub stopped_at_deadline: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The model cannot be used at all (missing file, wrong hash, endpoint down).
    #[error("{0}")]
    Unavailable(String),
    /// This one request failed (prompt too long, bad response).
    #[error("{0}")]
    Request(String),
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// "embedded", "openai" or "scripted".
    fn kind(&self) -> &'static str;
    /// The model in use (file name, endpoint model name, script path).
    fn model(&self) -> String;
    /// Where the model is served, for a remote backend (its URL): shown to admins only, since it
    /// names internal hosts.
    fn endpoint(&self) -> Option<String> {
        None
    }
    /// Whether the model is loaded and ready (remote backends: always true).
    fn loaded(&self) -> bool;
    /// Whether `ChatRequest::grammar` really constrains the reply.
    fn constrains_decoding(&self) -> bool {
        false
    }
    async fn complete(&self, req: ChatRequest) -> Result<Completion, LlmError>;
}

/// Builds the configured backend. Nothing heavy happens here: the embedded model loads lazily
/// on first use.
pub fn from_config(cfg: &ModelConfig) -> Result<Arc<dyn Backend>, LlmError> {
    Ok(match cfg.backend {
        BackendKind::Embedded => Arc::new(EmbeddedBackend::new(cfg)),
        BackendKind::Openai => Arc::new(OpenAiBackend::new(cfg)?),
        BackendKind::Scripted => Arc::new(ScriptedBackend::from_config(cfg)?),
    })
}
