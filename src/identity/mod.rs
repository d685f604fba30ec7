//! Verification of signed requests and tokens.
