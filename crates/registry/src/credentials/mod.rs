//! Credentials (placeholder for the module under construction).
