//! A seeded generator of ModelArts-like Huawei identity policies: 70
//! actions over 10 resource types, exact action lists, `modelarts:<type>:*`
//! and `modelarts:*:get*` patterns, URN resources, `StringEquals` on
//! `g:ResourceTag/team` and `IpAddress` on `g:SourceIp` conditions, and Deny
//! statements only on `-prod-` resources. Identity policies never grant the
//! `workspace` type. Seeded, so every run measures the same policies.

use std::path::Path;
use std::sync::Arc;

use iamgate::cloud::Cloud;
use iamgate::policy::{parse_policy, Policy};

/// Resource types with the prefix of their ids; × `VERBS` = 70 actions.
const TYPES: &[(&str, &str)] = &[
    ("notebook", "nb"),
    ("training-job", "job"),
    ("model", "model"),
    ("service", "svc"),
    ("dataset", "ds"),
    ("pool", "pool"),
    ("image", "img"),
    ("algorithm", "algo"),
    ("node", "node"),
    ("workflow", "wf"),
];
const VERBS: &[&str] = &["get", "list", "create", "update", "delete", "start", "stop"];
const TEAMS: &[&str] = &["ml-platform", "cv", "nlp", "speech"];
const NETS: &[&str] = &["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"];

/// The last statement of a measured principal's last policy: an allow that
/// needs both conditions checked.
const GRANT: &str = r#"{"Sid":"NotebookOpsMlPlatform","Effect":"Allow",
    "Action":["modelarts:notebook:start","modelarts:notebook:stop"],
    "Resource":["modelarts:*:*:notebook:nb-17"],
    "Condition":{"StringEquals":{"g:ResourceTag/team":["ml-platform"]},"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}}"#;

/// splitmix64: a seeded generator, so every run measures the same policies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `text` one time in `one_in`, else nothing.
    fn maybe(&mut self, one_in: usize, text: String) -> String {
        if self.below(one_in) == 0 {
            text
        } else {
            String::new()
        }
    }
}

fn team_condition(rng: &mut Rng) -> String {
    format!(
        r#","Condition":{{"StringEquals":{{"g:ResourceTag/team":["{}"]}}}}"#,
        rng.pick(TEAMS)
    )
}

fn ip_condition(rng: &mut Rng) -> String {
    format!(
        r#","Condition":{{"IpAddress":{{"g:SourceIp":["{}"]}}}}"#,
        rng.pick(NETS)
    )
}

fn resource(rng: &mut Rng, ty: &str, id: &str) -> String {
    match rng.below(3) {
        0 => r#""*""#.to_string(),
        1 => format!(r#""modelarts:*:*:{ty}:*""#),
        _ => format!(r#""modelarts:*:*:{ty}:{id}-{}""#, rng.below(40)),
    }
}

/// One statement: half exact action lists, a quarter `<type>:*`, some
/// `*:get*`/`*:list*`, a tenth Deny on `-prod-` resources.
fn random_statement(rng: &mut Rng) -> String {
    let (ty, id) = rng.pick(TYPES);
    let (effect, actions, resource, condition) = match rng.below(20) {
        0..=9 => {
            let n = 1 + rng.below(3);
            let list: Vec<String> = (0..n)
                .map(|_| format!(r#""modelarts:{ty}:{}""#, rng.pick(VERBS)))
                .collect();
            let cond = team_condition(rng);
            (
                "Allow",
                list.join(","),
                resource(rng, ty, id),
                rng.maybe(3, cond),
            )
        }
        10..=14 => {
            let cond = team_condition(rng);
            (
                "Allow",
                format!(r#""modelarts:{ty}:*""#),
                resource(rng, ty, id),
                rng.maybe(2, cond),
            )
        }
        15..=17 => {
            let cond = ip_condition(rng);
            let actions = r#""modelarts:*:get*","modelarts:*:list*""#.to_string();
            ("Allow", actions, r#""*""#.to_string(), rng.maybe(2, cond))
        }
        _ => {
            let actions = match rng.below(2) {
                0 => format!(r#""modelarts:{ty}:delete","modelarts:{ty}:stop""#),
                _ => format!(r#""modelarts:{ty}:*""#),
            };
            (
                "Deny",
                actions,
                format!(r#""modelarts:*:*:{ty}:{id}-prod-*""#),
                String::new(),
            )
        }
    };
    format!(r#"{{"Effect":"{effect}","Action":[{actions}],"Resource":[{resource}]{condition}}}"#)
}

pub fn parse(name: &str, statements: &[String]) -> Arc<Policy> {
    let doc = format!(
        r#"{{"Version":"5.0","Statement":[{}]}}"#,
        statements.join(",")
    );
    let policy = parse_policy(Path::new("bench.json"), name, Cloud::Huawei, &doc);
    Arc::new(policy.unwrap_or_else(|e| panic!("{name}: {e:?}")))
}

/// Five random statements; with `grant`, the last one is `GRANT`.
pub fn identity_policy(rng: &mut Rng, name: &str, grant: bool) -> Arc<Policy> {
    let mut statements: Vec<String> = (0..5).map(|_| random_statement(rng)).collect();
    if grant {
        statements[4] = GRANT.to_string();
    }
    parse(name, &statements)
}
