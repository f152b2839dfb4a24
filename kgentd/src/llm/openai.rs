//! Any OpenAI-compatible chat-completions endpoint: vLLM, Ollama, a llama.cpp server, a hosted
//! API. The key comes from an environment variable or a file, never from the config itself.
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::{Backend, ChatRequest, Completion, LlmError};
use crate::config::ModelConfig;

pub struct OpenAiBackend {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl OpenAiBackend {
    pub fn new(cfg: &ModelConfig) -> Result<Self, LlmError> {
        let api_key = match std::env::var(&cfg.openai_api_key_env) {
            Ok(k) if !k.is_empty() => Some(k),
            _ => match &cfg.openai_api_key_file {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .map_err(|e| {
                            LlmError::Unavailable(format!(
                                "cannot read the API key file {}: {e}",
                                p.display()
                            ))
                        })?
                        .trim()
                        .to_owned(),
                ),
                None => None,
            },
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.openai_timeout_s))
            .build()
            .map_err(|e| LlmError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            url: format!(
                "{}/chat/completions",
                cfg.openai_base_url.trim_end_matches('/')
            ),
            model: cfg.openai_model.clone(),
            api_key,
        })
    }
}

#[async_trait::async_trait]
impl Backend for OpenAiBackend {
    fn kind(&self) -> &'static str {
        "openai"
    }
    fn model(&self) -> String {
        self.model.clone()
    }
    fn endpoint(&self) -> Option<String> {
        Some(self.url.clone())
    }
    fn loaded(&self) -> bool {
        true
    }
    async fn complete(&self, req: ChatRequest) -> Result<Completion, LlmError> {
        let messages: Vec<_> = req
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "seed": req.seed,
        });
        let mut http = self.client.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            http = http.bearer_auth(key);
        }
        let started = Instant::now();
        // The ask's deadline bounds this request below the client's own timeout; a reply cut
        // by it is no reply, said as such (not "endpoint down").
        let cut_at_deadline = || Completion {
            stopped_at_deadline: true,
            generation_ms: started.elapsed().as_millis() as u64,
            ..Completion::default()
        };
        if let Some(deadline) = req.deadline {
            let left = deadline.saturating_duration_since(started);
            if left.is_zero() {
                return Ok(cut_at_deadline());
            }
            http = http.timeout(left);
        }
        let past_deadline = || req.deadline.is_some_and(|d| Instant::now() >= d);
        let resp = match http.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() && past_deadline() => return Ok(cut_at_deadline()),
            Err(e) => {
                return Err(LlmError::Unavailable(format!(
                    "cannot reach {}: {e}",
                    self.url
                )))
            }
        };
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) if e.is_timeout() && past_deadline() => return Ok(cut_at_deadline()),
            Err(e) => return Err(LlmError::Request(format!("reading the response: {e}"))),
        };
        if !status.is_success() {
            let snippet: String = text.chars().take(300).collect();
            let err = format!("{} answered {status}: {snippet}", self.url);
            return Err(if status.is_server_error() || status.as_u16() == 401 {
                LlmError::Unavailable(err)
            } else {
                LlmError::Request(err)
            });
        }
        let parsed: ChatResponse = serde_json::from_str(&text).map_err(|e| {
            LlmError::Request(format!("not an OpenAI chat-completions response: {e}"))
        })?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| {
                LlmError::Request("the response has no choices[0].message.content".into())
            })?;
        let (prompt_tokens, completion_tokens) = parsed
            .usage
            .map(|u| (u.prompt_tokens, u.completion_tokens))
            .unwrap_or_default();
        Ok(Completion {
            text: content,
            prompt_tokens,
            completion_tokens,
            prompt_ms: 0,
            cached_prompt_tokens: 0,
            generation_ms: started.elapsed().as_millis() as u64,
            stopped_at_deadline: false,
        })
    }
}
