//! A [`PackedForest`] as plain `u32` words, for a predictor that receives the forest
//! through memory it does not own: a wasm guest's parallel-for kernel (whose buffers are
//! regions of linear memory), a GPU shader.
//!
//! - **Nodes**: [`NODE_WORDS`] words each, in the node order of the packed layout (see
//!   [`super::predict`]): the threshold's `f32` bits (NaN for a leaf), the feature, the
//!   index of the left child (the right one is `left + 1`; a leaf's own index − 1,
//!   wrapping), the value's `f32` bits.
//! - **Trees**: [`TREE_WORDS`] words each, in tree order: the root's node index and the
//!   tree's depth (steps from the root to its deepest leaf).
//!
//! [`PackedWords::new`] checks the words once (every root and every step's target in
//! range, every feature below the row width), after which predicting through them
//! walks exactly as [`PackedForest::predict`] does and gives the same bits. Forged words
//! that pass the checks (a wrong depth, a cycle between split nodes) give wrong
//! predictions at worst, never a read outside the words or the rows, and never a walk
//! longer than the depths say.

use alloc::vec::Vec;

use super::predict::{Node, View};
use super::{ForestError, PackedForest};

/// Words per node: threshold bits, feature, left child, value bits.
pub const NODE_WORDS: usize = 4;
/// Words per tree: root node index, depth.
pub const TREE_WORDS: usize = 2;

impl PackedForest {
    /// The node array as words ([`NODE_WORDS`] per node; see the module docs).
    pub fn node_words(&self) -> Vec<u32> {
        let v = self.view();
        v.nodes
            .iter()
            .flat_map(|n| [n.threshold.to_bits(), n.feature, n.left, n.value.to_bits()])
            .collect()
    }

    /// The trees as words ([`TREE_WORDS`] per tree: root, depth).
    pub fn tree_words(&self) -> Vec<u32> {
        self.view().roots.iter().flatten().copied().collect()
    }
}

/// The words as nodes and trees (whole ones; a trailing partial node or tree is left
/// out). No check of their contents.
fn cast_words<'a>(nodes: &'a [u32], trees: &'a [u32]) -> (&'a [Node], &'a [[u32; 2]]) {
    // SAFETY: `Node` is `repr(C)` of four 4-byte fields (two `u32`, two `f32`), so it has
    // the size and alignment of `[u32; 4]` and every bit pattern is a valid `Node`;
    // likewise `[u32; 2]`; the lengths round down, so both slices lie inside the words.
    unsafe {
        (
            core::slice::from_raw_parts(nodes.as_ptr().cast::<Node>(), nodes.len() / 4),
            core::slice::from_raw_parts(trees.as_ptr().cast::<[u32; 2]>(), trees.len() / 2),
        )
    }
}

/// A packed forest borrowed from words (see the module docs), checked.
#[derive(Clone, Copy)]
pub struct PackedWords<'a> {
    view: View<'a>,
}

impl core::fmt::Debug for PackedWords<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PackedWords")
            .field("n_features", &self.view.d)
            .field("nodes", &self.view.nodes.len())
            .field("trees", &self.view.roots.len())
            .finish()
    }
}

impl<'a> PackedWords<'a> {
    /// Borrows `nodes` and `trees` (from [`PackedForest::node_words`] and
    /// [`PackedForest::tree_words`], or the same layout from elsewhere) for rows of
    /// `n_features` values, after checking them (O(nodes + trees)).
    ///
    /// # Errors
    /// [`ForestError::NoTrees`] for no trees; [`ForestError::Width`] when `n_features`
    /// is 0; [`ForestError::BadTree`] naming the first tree (by a root out of range) or
    /// node slot (`tree` 0, `node` its index) that breaks the layout, or word counts that
    /// are not whole nodes and trees (`node` = the word count).
    pub fn new(
        n_features: usize,
        nodes: &'a [u32],
        trees: &'a [u32],
    ) -> Result<PackedWords<'a>, ForestError> {
        if n_features == 0 {
            return Err(ForestError::Width { got: 0, d: 0 });
        }
        if !nodes.len().is_multiple_of(NODE_WORDS) || nodes.len() / NODE_WORDS > i32::MAX as usize {
            return Err(ForestError::BadTree {
                tree: 0,
                node: nodes.len(),
            });
        }
        if !trees.len().is_multiple_of(TREE_WORDS) {
            return Err(ForestError::BadTree {
                tree: trees.len(),
                node: 0,
            });
        }
        if trees.is_empty() {
            return Err(ForestError::NoTrees);
        }
        let (n, r) = cast_words(nodes, trees);
        let len = n.len() as u64;
        for (i, node) in n.iter().enumerate() {
            // The furthest node a step can land on: `left + 1` (a NaN threshold always
            // goes right, wrapping as a leaf's `left` does).
            let furthest = if node.threshold.is_nan() {
                u64::from(node.left.wrapping_add(1))
            } else {
                u64::from(node.left) + 1
            };
            let ok = furthest < len;
            if !ok || node.feature as usize >= n_features {
                return Err(ForestError::BadTree { tree: 0, node: i });
            }
        }
        if let Some(t) = r.iter().position(|&[root, _]| u64::from(root) >= len) {
            return Err(ForestError::BadTree { tree: t, node: 0 });
        }
        Ok(PackedWords {
            view: View {
                d: n_features,
                nodes: n,
                roots: r,
            },
        })
    }

    /// Borrows words that have already passed [`PackedWords::new`], without checking
    /// them again (O(1)): for a predictor that checks once and then predicts from the
    /// same words many times, as the parallel-for guest's kernel does for each block.
    ///
    /// # Safety
    /// `PackedWords::new(n_features, nodes, trees)` must have returned `Ok` for these
    /// same words, and they must not have changed since (the walk reads nodes without
    /// bounds checks; words that break the layout make it read out of bounds).
    pub unsafe fn new_unchecked(
        n_features: usize,
        nodes: &'a [u32],
        trees: &'a [u32],
    ) -> PackedWords<'a> {
        let (n, r) = cast_words(nodes, trees);
        PackedWords {
            view: View {
                d: n_features,
                nodes: n,
                roots: r,
            },
        }
    }

    /// Features per row.
    pub fn n_features(&self) -> usize {
        self.view.d
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.view.roots.len()
    }

    /// Predicts the rows of `x` (`out.len()` rows of [`PackedWords::n_features`] values,
    /// row-major) into `out`, on the calling thread: bit for bit what
    /// [`PackedForest::predict`] gives for the forest these words came from.
    ///
    /// # Errors
    /// [`ForestError::Width`] when `x.len()` is not `out.len() · n_features`.
    pub fn predict_into(&self, x: &[f32], out: &mut [f64]) -> Result<(), ForestError> {
        let d = self.view.d;
        if out.len().checked_mul(d) != Some(x.len()) {
            return Err(ForestError::Width { got: x.len(), d });
        }
        self.view.predict_into(x, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::friedman1;
    use crate::forest::{Forest, ForestParams};

    fn forest() -> (Forest, crate::data::Dataset) {
        let data = friedman1(300, 6, 1.0, 5);
        let p = ForestParams {
            n_trees: 7,
            ..ForestParams::default()
        };
        (Forest::fit(&data, &p).unwrap(), friedman1(101, 6, 1.0, 6))
    }

    #[test]
    fn words_predict_the_same_bits_as_the_forest() {
        let (f, test) = forest();
        let packed = f.compile().unwrap();
        let (nodes, trees) = (packed.node_words(), packed.tree_words());
        assert_eq!(nodes.len(), packed.n_nodes() * NODE_WORDS);
        assert_eq!(trees.len(), 7 * TREE_WORDS);
        let w = PackedWords::new(6, &nodes, &trees).unwrap();
        assert_eq!((w.n_features(), w.n_trees()), (6, 7));
        let want = f.predict(&test.x).unwrap();
        let mut got = std::vec![0.0; test.n_rows];
        w.predict_into(&test.x, &mut got).unwrap();
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "row {i}: {a} vs {b}");
        }
        // Borrowed again without the checks (as a kernel does per block): same answers.
        // SAFETY: `new` accepted these very words just above.
        let again = unsafe { PackedWords::new_unchecked(6, &nodes, &trees) };
        let mut got2 = std::vec![0.0; test.n_rows];
        again.predict_into(&test.x, &mut got2).unwrap();
        assert_eq!(got2, got);
        // A block of rows from the middle, as a parallel-for kernel predicts it.
        let mut part = std::vec![0.0; 17];
        w.predict_into(&test.x[30 * 6..47 * 6], &mut part).unwrap();
        assert_eq!(part, want[30..47]);
    }

    #[test]
    fn bad_words_are_refused() {
        let (f, test) = forest();
        let packed = f.compile().unwrap();
        let (nodes, trees) = (packed.node_words(), packed.tree_words());
        let bad = |n: &[u32], t: &[u32], d: usize| PackedWords::new(d, n, t).unwrap_err();
        assert!(matches!(bad(&nodes, &trees, 0), ForestError::Width { .. }));
        assert!(matches!(
            bad(&nodes[..nodes.len() - 1], &trees, 6),
            ForestError::BadTree { .. }
        ));
        assert!(matches!(
            bad(&nodes, &trees[..3], 6),
            ForestError::BadTree { .. }
        ));
        assert!(matches!(bad(&nodes, &[], 6), ForestError::NoTrees));
        // A split feature past the row, a child past the end, a root past the end.
        let split = (0..nodes.len() / 4)
            .find(|&i| !f32::from_bits(nodes[4 * i]).is_nan())
            .unwrap();
        let mut n = nodes.clone();
        n[4 * split + 1] = 6;
        assert_eq!(
            bad(&n, &trees, 6),
            ForestError::BadTree {
                tree: 0,
                node: split
            }
        );
        let mut n = nodes.clone();
        n[4 * split + 2] = (nodes.len() / 4 - 1) as u32;
        assert_eq!(
            bad(&n, &trees, 6),
            ForestError::BadTree {
                tree: 0,
                node: split
            }
        );
        let mut t = trees.clone();
        t[2 * 3] = (nodes.len() / 4) as u32;
        assert_eq!(
            bad(&nodes, &t, 6),
            ForestError::BadTree { tree: 3, node: 0 }
        );
        // Rows that do not match the output.
        let w = PackedWords::new(6, &nodes, &trees).unwrap();
        let mut out = std::vec![0.0; 2];
        assert!(matches!(
            w.predict_into(&test.x[..13], &mut out),
            Err(ForestError::Width { .. })
        ));
    }
}
