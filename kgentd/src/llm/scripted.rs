//! Replays replies from a JSON array of strings, in order; after the last one it keeps replaying
//! the last. For deterministic tests of the agent loop only: it never looks at the prompt.
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Backend, ChatRequest, Completion, LlmError};
use crate::config::ModelConfig;

pub struct ScriptedBackend {
    source: String,
    replies: Vec<String>,
    next: AtomicUsize,
    /// Replies written as a grammar-constrained model would write them: the loop then takes
    /// the paths it takes for such a model (the query step).
    claims_grammar: bool,
}

impl ScriptedBackend {
    pub fn new(source: impl Into<String>, replies: Vec<String>) -> Result<Self, LlmError> {
        if replies.is_empty() {
            return Err(LlmError::Unavailable(
                "the scripted backend needs at least one reply".into(),
            ));
        }
        Ok(Self {
            source: source.into(),
            replies,
            next: AtomicUsize::new(0),
            claims_grammar: false,
        })
    }

    /// Replay as a backend whose decoding a grammar constrains (the replies must conform).
    pub fn claiming_grammar(mut self) -> Self {
        self.claims_grammar = true;
        self
    }

    pub fn from_config(cfg: &ModelConfig) -> Result<Self, LlmError> {
        let path = cfg.scripted_replies.as_ref().ok_or_else(|| {
            LlmError::Unavailable(
                "backend = \"scripted\" needs model.scripted_replies (a JSON array of strings)"
                    .into(),
            )
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| LlmError::Unavailable(format!("cannot read {}: {e}", path.display())))?;
        let replies: Vec<String> = serde_json::from_str(&text).map_err(|e| {
            LlmError::Unavailable(format!(
                "{}: expected a JSON array of strings: {e}",
                path.display()
            ))
        })?;
        Self::new(path.display().to_string(), replies)
    }
}

#[async_trait::async_trait]
impl Backend for ScriptedBackend {
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn model(&self) -> String {
        self.source.clone()
    }
    fn loaded(&self) -> bool {
        true
    }
    fn constrains_decoding(&self) -> bool {
        self.claims_grammar
    }
    async fn complete(&self, req: ChatRequest) -> Result<Completion, LlmError> {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        let text = self.replies[i.min(self.replies.len() - 1)].clone();
        let prompt_chars: usize = req.messages.iter().map(|m| m.content.len()).sum();
        Ok(Completion {
            completion_tokens: (text.len() / 4) as u64,
            prompt_tokens: (prompt_chars / 4) as u64,
            text,
            ..Completion::default()
        })
    }
}
