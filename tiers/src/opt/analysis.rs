//! Analyses the passes share: block order, dominators, loops.
//!
//! Each `compute_*` reads a [`Func`] and gives a fresh result; a pass that
//! changes the CFG recomputes what it needs (they are linear or nearly).

use super::ir::{Block, Func};

/// Blocks reachable from the entry, in reverse postorder (a block comes
/// before its successors except along back edges).
pub fn compute_rpo(f: &Func) -> Vec<Block> {
    let mut seen = vec![false; f.blocks.len()];
    let mut order = Vec::new();
    let mut stack: Vec<(Block, usize)> = vec![(f.entry, 0)];
    seen[f.entry.index()] = true;
    while let Some(&mut (b, ref mut next)) = stack.last_mut() {
        let succ = f.block(b).term.successors().nth(*next).map(|d| d.block);
        match succ {
            Some(s) => {
                *next += 1;
                if !seen[s.index()] {
                    seen[s.index()] = true;
                    stack.push((s, 0));
                }
            }
            None => {
                order.push(b);
                stack.pop();
            }
        }
    }
    order.reverse();
    order
}

/// The dominator tree.
pub struct DomTree {
    /// Immediate dominator of each block (`None` for the entry and for
    /// unreachable blocks).
    pub idom: Vec<Option<Block>>,
    /// Position of each reachable block in reverse postorder
    /// (`u32::MAX` if unreachable).
    pub rpo_index: Vec<u32>,
    /// The reachable blocks in reverse postorder.
    pub rpo: Vec<Block>,
    /// Children of each block in the tree.
    pub children: Vec<Vec<Block>>,
    /// Preorder number and last preorder number in the subtree, for O(1)
    /// dominance queries.
    pre: Vec<(u32, u32)>,
}

impl DomTree {
    /// True if `a` dominates `b` (every block dominates itself).
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        let (pa, la) = self.pre[a.index()];
        let (pb, _) = self.pre[b.index()];
        pa != u32::MAX && pb != u32::MAX && pa <= pb && pb <= la
    }

    /// True if `b` is reachable from the entry.
    pub fn is_reachable(&self, b: Block) -> bool {
        self.rpo_index[b.index()] != u32::MAX
    }
}

/// Dominators by Cooper, Harvey and Kennedy, "A Simple, Fast Dominance
/// Algorithm" (iterating over reverse postorder).
pub fn compute_domtree(f: &Func) -> DomTree {
    let rpo = compute_rpo(f);
    let n = f.blocks.len();
    let mut rpo_index = vec![u32::MAX; n];
    for (i, &b) in rpo.iter().enumerate() {
        rpo_index[b.index()] = i as u32;
    }
    let preds = f.compute_preds();
    let mut idom: Vec<Option<Block>> = vec![None; n];
    idom[f.entry.index()] = Some(f.entry);
    let intersect = |idom: &[Option<Block>], mut a: Block, mut b: Block| {
        while a != b {
            while rpo_index[a.index()] > rpo_index[b.index()] {
                a = idom[a.index()].expect("processed");
            }
            while rpo_index[b.index()] > rpo_index[a.index()] {
                b = idom[b.index()].expect("processed");
            }
        }
        a
    };
    let mut changed = true;
    while changed {
        changed = false;
        for &b in rpo.iter().skip(1) {
            let mut new: Option<Block> = None;
            for &p in &preds[b.index()] {
                if rpo_index[p.index()] == u32::MAX || idom[p.index()].is_none() {
                    continue;
                }
                new = Some(match new {
                    None => p,
                    Some(x) => intersect(&idom, p, x),
                });
            }
            if new.is_some() && idom[b.index()] != new {
                idom[b.index()] = new;
                changed = true;
            }
        }
    }
    idom[f.entry.index()] = None;
    let mut children = vec![Vec::new(); n];
    for &b in &rpo {
        if let Some(d) = idom[b.index()] {
            children[d.index()].push(b);
        }
    }
    let mut pre = vec![(u32::MAX, u32::MAX); n];
    let mut counter = 0u32;
    // Iterative preorder with subtree end numbers.
    let mut stack: Vec<(Block, bool)> = vec![(f.entry, false)];
    while let Some((b, done)) = stack.pop() {
        if done {
            pre[b.index()].1 = counter - 1;
            continue;
        }
        pre[b.index()].0 = counter;
        counter += 1;
        stack.push((b, true));
        for &c in children[b.index()].iter().rev() {
            stack.push((c, false));
        }
    }
    DomTree {
        idom,
        rpo_index,
        rpo,
        children,
        pre,
    }
}

/// A natural loop.
#[derive(Clone, Debug)]
pub struct Loop {
    /// Its header: dominates every block of the loop.
    pub header: Block,
    /// Every block of the loop (the header first).
    pub blocks: Vec<Block>,
    /// The loop immediately containing it.
    pub parent: Option<usize>,
    /// How many loops contain it (1 for an outermost loop).
    pub depth: u32,
}

/// The natural loops (one per header, merging every back edge into it),
/// innermost loops after the loops that contain them.
pub struct Loops {
    /// The loops.
    pub loops: Vec<Loop>,
    /// The innermost loop of each block.
    pub innermost: Vec<Option<usize>>,
}

impl Loops {
    /// Loop depth of a block (0: in no loop).
    pub fn depth(&self, b: Block) -> u32 {
        self.innermost[b.index()].map_or(0, |l| self.loops[l].depth)
    }

    /// True if block `b` is in loop `l`.
    pub fn contains(&self, l: usize, b: Block) -> bool {
        let mut cur = self.innermost[b.index()];
        while let Some(c) = cur {
            if c == l {
                return true;
            }
            cur = self.loops[c].parent;
        }
        false
    }
}

/// Finds the natural loops: an edge `b -> h` where `h` dominates `b` is a
/// back edge, and the loop is every block that reaches `b` without
/// passing through `h`.
pub fn compute_loops(f: &Func, dom: &DomTree) -> Loops {
    let preds = f.compute_preds();
    let n = f.blocks.len();
    let mut loops: Vec<Loop> = Vec::new();
    // Headers in reverse postorder: outer loops before inner ones.
    for &h in &dom.rpo {
        let latches: Vec<Block> = preds[h.index()]
            .iter()
            .copied()
            .filter(|&p| dom.is_reachable(p) && dom.dominates(h, p))
            .collect();
        if latches.is_empty() {
            continue;
        }
        let mut in_loop = vec![false; n];
        in_loop[h.index()] = true;
        let mut blocks = vec![h];
        let mut work = latches;
        while let Some(b) = work.pop() {
            if in_loop[b.index()] {
                continue;
            }
            in_loop[b.index()] = true;
            blocks.push(b);
            for &p in &preds[b.index()] {
                if dom.is_reachable(p) && !in_loop[p.index()] {
                    work.push(p);
                }
            }
        }
        loops.push(Loop {
            header: h,
            blocks,
            parent: None,
            depth: 1,
        });
    }
    // Nesting: natural loops of a reducible CFG are nested or disjoint,
    // and an inner loop is strictly smaller. Visiting loops from the
    // largest down, the innermost loop already recorded for a loop's
    // header is its parent.
    let mut innermost: Vec<Option<usize>> = vec![None; n];
    let mut by_size: Vec<usize> = (0..loops.len()).collect();
    by_size.sort_by_key(|&l| std::cmp::Reverse(loops[l].blocks.len()));
    for &l in &by_size {
        loops[l].parent = innermost[loops[l].header.index()];
        for &b in &loops[l].blocks {
            innermost[b.index()] = Some(l);
        }
    }
    for l in 0..loops.len() {
        let mut d = 1;
        let mut cur = loops[l].parent;
        while let Some(c) = cur {
            d += 1;
            cur = loops[c].parent;
        }
        loops[l].depth = d;
    }
    Loops { loops, innermost }
}
