//! `RouteTable::lookup` over the whole ModelArts table (every seed route with
//! concrete values, in turn) against a naive baseline: a linear scan over all
//! routes comparing segment by segment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::Method;
use iamgate::routes::RouteTable;

fn table() -> RouteTable {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
    RouteTable::load_dir(&dir).unwrap().0
}

/// A concrete path for a template: `{name}` → `name-1`, `{id}` → `nb%2D1` (an escape the lookup decodes).
fn instantiate(template: &str) -> String {
    let segments =
        template.split('/').map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("id") => "nb%2D1".to_string(), // an escape (`-`): ids are checked and decoded
                Some(name) => format!("{name}-1"),
                None => s.to_string(),
            },
        );
    segments.collect::<Vec<_>>().join("/")
}

/// The baseline: every route (mapped and unmapped) as method + template
/// segments; a lookup scans them all, static segments beating parameters
/// by keeping the match with the most static segments; parameter values
/// are percent-decoded as the table does (no strict path checks).
struct Naive {
    routes: Vec<(Method, Vec<String>)>,
}

impl Naive {
    fn new(table: &RouteTable) -> Naive {
        let mut routes = Vec::new();
        for service in table.services() {
            let mapped = service.routes.iter().map(|r| (&r.method, &r.path));
            let unmapped = service.unmapped.iter().map(|u| (&u.method, &u.path));
            for (method, path) in mapped.chain(unmapped) {
                let segments = path.split('/').map(str::to_string).collect();
                routes.push((method.clone(), segments));
            }
        }
        Naive { routes }
    }

    fn lookup(&self, method: &Method, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, usize)> = None;
        for (index, (m, template)) in self.routes.iter().enumerate() {
            if m != method || template.len() != segments.len() {
                continue;
            }
            let mut statics = 0;
            let fits = template.iter().zip(&segments).all(|(t, s)| {
                let param = t.starts_with('{');
                statics += usize::from(!param);
                param || t == s
            });
            let better = match best {
                Some((_, most)) => statics > most,
                None => true,
            };
            if fits && better {
                best = Some((index, statics));
            }
        }
        let (index, _) = best?;
        let params = self.routes[index].1.iter().zip(&segments);
        let params = params
            .filter(|(t, _)| t.starts_with('{'))
            .map(|(t, s)| (t.trim_matches(['{', '}']).to_string(), decode(s)))
            .collect();
        Some((index, params))
    }
}

fn decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

fn bench_lookup(c: &mut Criterion) {
    let table = table();
    let service = table.service("modelarts").unwrap();
    let requests: Vec<(Method, String)> = service
        .routes
        .iter()
        .map(|r| (r.method.clone(), instantiate(&r.path)))
        .collect();
    for (method, path) in &requests {
        let found = table.lookup(method, path);
        assert!(found.is_ok(), "{method} {path}: {:?}", found.err());
    }
    let naive = Naive::new(&table);
    let mut group = c.benchmark_group("routes");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.bench_function("route_table_lookup_all_seed_routes", |b| {
        b.iter(|| {
            for (method, path) in &requests {
                black_box(table.lookup(black_box(method), black_box(path)).is_ok());
            }
        })
    });
    group.bench_function("naive_linear_scan_all_seed_routes", |b| {
        b.iter(|| {
            for (method, path) in &requests {
                black_box(naive.lookup(black_box(method), black_box(path)).is_some());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_lookup);
criterion_main!(benches);
