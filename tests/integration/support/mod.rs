//! The end-to-end harness: the real Claude Code CLI against a scripted fake Messages API.

pub mod claude_cli;
pub mod fake_api;
