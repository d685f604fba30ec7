//! Accounts, organisations, users, groups, credentials and resources.
