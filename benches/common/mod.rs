//! Helpers of the decision bench: the policy generator and the naive
//! baseline it is measured against.

pub mod generate;
pub mod naive;
