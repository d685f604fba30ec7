//! The pure policy engine.
