//! What user-space functions return (`specs-db/user-functions.toml`, from their man pages): a
//! request that asks for the value a function hands back is answered at its return, with
//! `retval`, not from its arguments (bash's readline takes the prompt and returns the line).
use serde::Deserialize;

use crate::intent::Intent;

/// The shipped file.
pub const USER_FUNCTIONS: &str = include_str!("../../../specs-db/user-functions.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFunction {
    /// The symbol (`readline`).
    pub name: String,
    /// Base names of the files that define it (`bash`, `libreadline`).
    pub binaries: Vec<String>,
    /// What its return value is, in words.
    pub returns: String,
    /// Words of a request that ask for the returned value.
    pub words: Vec<String>,
    pub source: String,
}

/// Every documented function (none when the file does not parse: a test says so).
pub fn shipped() -> &'static [UserFunction] {
    static FILE: std::sync::LazyLock<Vec<UserFunction>> =
        std::sync::LazyLock::new(|| super::specs_table::records(USER_FUNCTIONS, "function"));
    &FILE
}

/// The documented function a uprobe target (`/usr/bin/bash:readline`) attaches to, when the
/// request asks for what it returns.
pub fn result_asked<'a>(intent: &Intent, target: &str) -> Option<&'a UserFunction> {
    let (binary, function) = target.rsplit_once(':')?;
    let base = binary.rsplit('/').next().unwrap_or(binary);
    shipped().iter().find(|f| {
        f.name == function
            && f.binaries.iter().any(|b| base.starts_with(b.as_str()))
            && f.words.iter().any(|w| intent.uses_word(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_function_parses_and_names_its_source() {
        let all = shipped();
        assert!(all.len() >= 3, "{} functions", all.len());
        for f in all {
            assert!(!f.words.is_empty() && !f.source.is_empty(), "{}", f.name);
        }
    }

    #[test]
    fn what_a_function_returns_is_asked_in_words_of_its_meaning() {
        let typed = Intent::read("show what people type at their shell prompts");
        let f = result_asked(&typed, "/bin/bash:readline").expect("readline");
        assert!(f.returns.contains("line"));
        assert!(result_asked(&typed, "/usr/bin/zsh:readline").is_none());
        let who = Intent::read("which shells call readline");
        assert!(result_asked(&who, "/bin/bash:readline").is_none());
    }
}
