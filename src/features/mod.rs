//! Per-object styles (Wang et al. 2018, §3.4): K-means over the encoder's instance features, the clusters file,
//! and turning a style choice per object into G's feature channels.
//!
//! `clusters.json` (format version 1) holds, per class id, the cluster centres (feat_num values each), how many
//! training regions each cluster holds, and the mean RGB colour of those regions' real pixels, so a UI can show a
//! swatch without rendering:
//! ```json
//! { "version": 1, "feat_num": 3, "n_clusters": 10, "min_region_fraction": 0.015625,
//!   "classes": { "26": { "centers": [[0.1, -0.3, 0.7], ...], "counts": [40, ...], "mean_rgb": [[180, 20, 25], ...] } } }
//! ```
//! Classes without large enough regions are absent; their pixels get zero features. `encode` makes the file from a
//! trained encoder and a data set.

pub mod encode;

use crate::data::rng::SplitMix64;
use crate::labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const CLUSTERS_FILE: &str = "clusters.json";
pub const CLUSTERS_VERSION: u32 = 1;

/// The reference keeps regions larger than H·W/64 pixels (`num_pixels / (H·W // 32) > 0.5`).
pub const MIN_REGION_FRACTION: f64 = 1.0 / 64.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassClusters {
    pub centers: Vec<Vec<f32>>,
    pub counts: Vec<usize>,
    pub mean_rgb: Vec<[u8; 3]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clusters {
    pub version: u32,
    pub feat_num: usize,
    pub n_clusters: usize,
    pub min_region_fraction: f64,
    /// Keyed by class id (as a string in JSON).
    pub classes: BTreeMap<u32, ClassClusters>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClustersError {
    #[error("cannot read clusters file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("clusters file {path} is not valid: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("clusters file {path} has version {got}; this build reads version {CLUSTERS_VERSION}")]
    Version { path: String, got: u32 },
    #[error("clusters file {path}: class {class} {problem}")]
    Inconsistent { path: String, class: u32, problem: String },
    #[error(transparent)]
    Write(#[from] crate::fs::WriteError),
}

impl Clusters {
    pub fn load(path: &Path) -> Result<Self, ClustersError> {
        let p = || path.display().to_string();
        let text = crate::fs::read_to_string(path).map_err(|source| ClustersError::Read { path: p(), source })?;
        let c: Self = serde_json::from_str(&text).map_err(|source| ClustersError::Parse { path: p(), source })?;
        if c.version != CLUSTERS_VERSION {
            return Err(ClustersError::Version { path: p(), got: c.version });
        }
        for (&class, cc) in &c.classes {
            let bad = |problem: String| ClustersError::Inconsistent { path: p(), class, problem };
            if cc.centers.is_empty() {
                return Err(bad("has no centres".into()));
            }
            if cc.centers.iter().any(|r| r.len() != c.feat_num) {
                return Err(bad(format!("has a centre whose length is not feat_num {}", c.feat_num)));
            }
            if cc.counts.len() != cc.centers.len() || cc.mean_rgb.len() != cc.centers.len() {
                return Err(bad("has counts or colours that do not match its centres".into()));
            }
        }
        Ok(c)
    }

    pub fn save(&self, path: &Path) -> Result<(), ClustersError> {
        let text = serde_json::to_string_pretty(self).expect("clusters serialise") + "\n";
        Ok(crate::fs::write_bytes(path, text.as_bytes())?)
    }

    /// Number of clusters of a class (0 when the class has none).
    pub fn count(&self, class: u32) -> usize {
        self.classes.get(&class).map_or(0, |c| c.centers.len())
    }
}

/// One training region's pooled feature, with what K-means and the swatches need.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionFeature {
    pub class: u32,
    pub feature: Vec<f32>,
    pub mean_rgb: [f32; 3],
}

fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
}

/// K-means with k-means++ initialisation (seeded), Lloyd iterations until the assignment stops changing.
/// `k` is lowered to the number of distinct points when there are fewer. Returns (centres, assignment).
pub fn kmeans(points: &[Vec<f32>], k: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
    assert!(!points.is_empty(), "kmeans needs points");
    let mut distinct: Vec<&Vec<f32>> = Vec::new();
    for p in points {
        if !distinct.contains(&p) {
            distinct.push(p);
        }
    }
    let k = k.clamp(1, distinct.len());
    let mut rng = SplitMix64::new(seed);
    let mut centers: Vec<Vec<f32>> = vec![points[rng.up_to(points.len() - 1)].clone()];
    let mut d2: Vec<f64> = points.iter().map(|p| dist2(p, &centers[0])).collect();
    while centers.len() < k {
        let total: f64 = d2.iter().sum();
        let mut pick = rng.next_f64() * total;
        let mut idx = d2.iter().rposition(|&d| d > 0.0).unwrap_or(0);
        for (i, &d) in d2.iter().enumerate() {
            if d > 0.0 && pick < d {
                idx = i;
                break;
            }
            pick -= d;
        }
        centers.push(points[idx].clone());
        for (i, p) in points.iter().enumerate() {
            d2[i] = d2[i].min(dist2(p, &centers[centers.len() - 1]));
        }
    }
    let nearest = |p: &[f32], centers: &[Vec<f32>]| -> usize {
        (0..centers.len()).min_by(|&a, &b| dist2(p, &centers[a]).total_cmp(&dist2(p, &centers[b]))).expect("k >= 1")
    };
    let mut assign: Vec<usize> = points.iter().map(|p| nearest(p, &centers)).collect();
    for _ in 0..300 {
        let dim = points[0].len();
        let mut sums = vec![vec![0f64; dim]; k];
        let mut counts = vec![0usize; k];
        for (p, &a) in points.iter().zip(&assign) {
            counts[a] += 1;
            for (s, &v) in sums[a].iter_mut().zip(p) {
                *s += v as f64;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                centers[c] = sums[c].iter().map(|s| (s / counts[c] as f64) as f32).collect();
            }
        }
        let next: Vec<usize> = points.iter().map(|p| nearest(p, &centers)).collect();
        if next == assign {
            break;
        }
        assign = next;
    }
    (centers, assign)
}

/// Clusters every class's region features, as encode_features.py does (K-means per class, k = min(regions, n)).
pub fn cluster_regions(regions: &[RegionFeature], feat_num: usize, n_clusters: usize, seed: u64) -> Clusters {
    let mut by_class: BTreeMap<u32, Vec<&RegionFeature>> = BTreeMap::new();
    for r in regions {
        by_class.entry(r.class).or_default().push(r);
    }
    let mut classes = BTreeMap::new();
    for (class, rs) in by_class {
        let points: Vec<Vec<f32>> = rs.iter().map(|r| r.feature.clone()).collect();
        let (centers, assign) = kmeans(&points, n_clusters, seed ^ u64::from(class));
        let k = centers.len();
        let mut counts = vec![0usize; k];
        let mut rgb = vec![[0f64; 3]; k];
        for (r, &a) in rs.iter().zip(&assign) {
            counts[a] += 1;
            for (acc, v) in rgb[a].iter_mut().zip(r.mean_rgb) {
                *acc += v as f64;
            }
        }
        let mean_rgb = rgb
            .iter()
            .zip(&counts)
            .map(|(s, &n)| {
                let n = n.max(1) as f64;
                [(s[0] / n).round() as u8, (s[1] / n).round() as u8, (s[2] / n).round() as u8]
            })
            .collect();
        classes.insert(class, ClassClusters { centers, counts, mean_rgb });
    }
    Clusters { version: CLUSTERS_VERSION, feat_num, n_clusters, min_region_fraction: MIN_REGION_FRACTION, classes }
}

pub use crate::scene::StyleChoice;

/// The style of every object of a scene: explicit choices per instance id, per class, then the seeded default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleSpec {
    pub seed: u64,
    pub by_id: BTreeMap<u32, StyleChoice>,
    pub by_class: BTreeMap<u32, StyleChoice>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StyleError {
    #[error("object {id} (class {class}, {name}) has {available} style clusters, so cluster {asked} does not exist")]
    NoSuchCluster { id: u32, class: u32, name: String, asked: usize, available: usize },
}

impl StyleSpec {
    /// The cluster index object `id` gets, or None when its class has no clusters.
    pub fn cluster_for(&self, id: u32, clusters: &Clusters) -> Result<Option<usize>, StyleError> {
        let class = labels::class_of_instance(id);
        let n = clusters.count(class);
        if n == 0 {
            return Ok(None);
        }
        let choice = self.by_id.get(&id).or_else(|| self.by_class.get(&class)).copied().unwrap_or(StyleChoice::Random);
        match choice {
            StyleChoice::Cluster(k) if k < n => Ok(Some(k)),
            StyleChoice::Cluster(k) => Err(StyleError::NoSuchCluster {
                id,
                class,
                name: labels::label(class.min(255) as u8).map_or("unknown class", |l| l.name).to_string(),
                asked: k,
                available: n,
            }),
            StyleChoice::Random => Ok(Some(SplitMix64::derive(&[self.seed, u64::from(id)]).up_to(n - 1))),
        }
    }

    /// G's feature channels [feat_num, H, W] (row-major, channel-first) for an instance map: every pixel of an
    /// object gets its cluster's centre; pixels of classes without clusters get zeros.
    pub fn feature_map(&self, inst: &[u32], clusters: &Clusters) -> Result<Vec<f32>, StyleError> {
        let n = inst.len();
        let f = clusters.feat_num;
        let mut out = vec![0f32; f * n];
        let mut cache: BTreeMap<u32, Option<&[f32]>> = BTreeMap::new();
        for (i, &id) in inst.iter().enumerate() {
            let centre = match cache.get(&id) {
                Some(c) => *c,
                None => {
                    let c = self
                        .cluster_for(id, clusters)?
                        .map(|k| clusters.classes[&labels::class_of_instance(id)].centers[k].as_slice());
                    cache.insert(id, c);
                    c
                }
            };
            if let Some(c) = centre {
                for (ch, &v) in c.iter().enumerate() {
                    out[ch * n + i] = v;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_finds_planted_clusters_exactly() {
        let planted = [[-0.8f32, 0.5, 0.1], [0.7, -0.6, 0.2], [0.1, 0.9, -0.9], [0.6, 0.6, 0.6]];
        let mut rng = SplitMix64::new(1);
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for i in 0..200 {
            let c = i % 4;
            points.push(planted[c].iter().map(|&v| v + (rng.next_f64() as f32 - 0.5) * 0.1).collect::<Vec<f32>>());
            truth.push(c);
        }
        let (centers, assign) = kmeans(&points, 4, 7);
        assert_eq!(centers.len(), 4);
        // Every planted cluster maps to exactly one found cluster, and no point is misassigned.
        let mut map = [usize::MAX; 4];
        for (&t, &a) in truth.iter().zip(&assign) {
            if map[t] == usize::MAX {
                map[t] = a;
            }
            assert_eq!(map[t], a, "point of planted cluster {t} split");
        }
        let mut seen = map.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 4);
        for (t, &a) in map.iter().enumerate() {
            assert!(dist2(&centers[a], &planted[t]) < 0.01);
        }
        assert_eq!(kmeans(&points, 4, 7), kmeans(&points, 4, 7), "seeded, so repeatable");
    }

    #[test]
    fn fewer_points_than_clusters_lowers_k() {
        let points = vec![vec![0.0f32, 1.0], vec![0.0, 1.0], vec![1.0, 0.0]];
        let (centers, _) = kmeans(&points, 10, 0);
        assert_eq!(centers.len(), 2);
    }

    fn sample_clusters() -> Clusters {
        let regions: Vec<RegionFeature> = (0..12)
            .map(|i| RegionFeature {
                class: if i < 9 { 26 } else { 7 },
                feature: vec![(i % 3) as f32, 0.5, -(i % 3) as f32],
                mean_rgb: [(i % 3) as f32 * 100.0, 10.0, 20.0],
            })
            .collect();
        cluster_regions(&regions, 3, 10, 0)
    }

    #[test]
    fn clusters_file_round_trips_and_checks_itself() {
        let c = sample_clusters();
        assert_eq!(c.count(26), 3);
        assert_eq!(c.classes[&26].counts.iter().sum::<usize>(), 9);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CLUSTERS_FILE);
        c.save(&path).unwrap();
        assert_eq!(Clusters::load(&path).unwrap(), c);
        let text = std::fs::read_to_string(&path).unwrap().replace("\"version\": 1", "\"version\": 9");
        std::fs::write(&path, text).unwrap();
        assert!(Clusters::load(&path).unwrap_err().to_string().contains("version 9"));
    }

    #[test]
    fn styles_are_seeded_per_object_and_explicit_choices_win() {
        let c = sample_clusters();
        let spec = StyleSpec { seed: 5, ..Default::default() };
        let inst = vec![26000u32, 26000, 26001, 7, 23];
        let a = spec.feature_map(&inst, &c).unwrap();
        assert_eq!(a, spec.feature_map(&inst, &c).unwrap());
        // Sky (23) has no clusters: zeros.
        assert_eq!([a[4], a[5 + 4], a[10 + 4]], [0.0, 0.0, 0.0]);
        let mut fixed = spec.clone();
        fixed.by_id.insert(26001, StyleChoice::Cluster(2));
        let k = fixed.cluster_for(26001, &c).unwrap().unwrap();
        assert_eq!(k, 2);
        fixed.by_class.insert(26, StyleChoice::Cluster(1));
        assert_eq!(fixed.cluster_for(26000, &c).unwrap(), Some(1));
        assert_eq!(fixed.cluster_for(26001, &c).unwrap(), Some(2), "an object's own choice beats its class's");
        fixed.by_id.insert(26000, StyleChoice::Cluster(5));
        let err = fixed.feature_map(&inst, &c).unwrap_err();
        assert!(err.to_string().contains("has 3 style clusters, so cluster 5"), "{err}");
    }
}
