//! Analyses the passes share: block order, dominators, loops.
//!
//! Each `compute_*` reads a [`Func`] and gives a fresh result; a pass that
//! changes the CFG recomputes what it needs (they are linear or nearly).

use super::ir::{Block, BlockLists, Func, Inst, Op, Term};
use crate::Type;

/// Blocks reachable from the entry, in reverse postorder (a block comes
/// before its successors except along back edges).
pub fn compute_rpo(f: &Func) -> Vec<Block> {
    let mut seen = vec![false; f.blocks.len()];
    let mut order = Vec::with_capacity(f.layout.len());
    let mut stack: Vec<(Block, usize)> = Vec::with_capacity(f.layout.len());
    stack.push((f.entry, 0));
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
    /// The predecessors of every block ([`Func::compute_preds`]) when the
    /// tree was computed: passes that keep the CFG read them here.
    pub preds: BlockLists,
    /// Children of each block in the tree, in reverse postorder.
    children: BlockLists,
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

    /// The blocks `b` immediately dominates, in reverse postorder.
    pub fn children(&self, b: Block) -> &[Block] {
        &self.children[b.index()]
    }
}

/// Dominators by Lengauer and Tarjan's algorithm (the simple version,
/// with path compression: O(E log V) whatever the shape of the graph; the
/// iterative Cooper-Harvey-Kennedy algorithm goes quadratic on long chains
/// of early exits).
pub fn compute_domtree(f: &Func) -> DomTree {
    let n = f.blocks.len();
    let live = f.layout.len();
    // Depth-first preorder numbers and parents; the postorder of the same
    // walk is [`compute_rpo`]'s, reversed.
    let mut dfs_index = vec![u32::MAX; n];
    let mut order: Vec<Block> = Vec::with_capacity(live);
    let mut parent: Vec<usize> = Vec::with_capacity(live);
    let mut rpo = Vec::with_capacity(live);
    order.push(f.entry);
    parent.push(0);
    dfs_index[f.entry.index()] = 0;
    let mut stack: Vec<(Block, usize)> = Vec::with_capacity(live);
    stack.push((f.entry, 0));
    while let Some(&mut (b, ref mut next)) = stack.last_mut() {
        let Some(s) = f.block(b).term.successors().nth(*next).map(|d| d.block) else {
            rpo.push(b);
            stack.pop();
            continue;
        };
        *next += 1;
        if dfs_index[s.index()] == u32::MAX {
            dfs_index[s.index()] = order.len() as u32;
            parent.push(dfs_index[b.index()] as usize);
            order.push(s);
            stack.push((s, 0));
        }
    }
    rpo.reverse();
    let preds = f.compute_preds();
    let idom_dfs = immediate_dominators(&parent, |w, out| {
        out.extend(
            preds[order[w].index()]
                .iter()
                .map(|p| dfs_index[p.index()])
                .filter(|&p| p != u32::MAX)
                .map(|p| p as usize),
        );
    });
    let mut idom: Vec<Option<Block>> = vec![None; n];
    for w in 1..order.len() {
        idom[order[w].index()] = Some(order[idom_dfs[w]]);
    }
    let mut rpo_index = vec![u32::MAX; n];
    for (i, &b) in rpo.iter().enumerate() {
        rpo_index[b.index()] = i as u32;
    }
    let children = BlockLists::from_pairs(
        n,
        rpo.iter().filter_map(|&b| idom[b.index()].map(|d| (d, b))),
    );
    let mut pre = vec![(u32::MAX, u32::MAX); n];
    let mut counter = 0u32;
    // Iterative preorder with subtree end numbers.
    let mut walk: Vec<(Block, bool)> = Vec::with_capacity(live);
    walk.push((f.entry, false));
    while let Some((b, done)) = walk.pop() {
        if done {
            pre[b.index()].1 = counter - 1;
            continue;
        }
        pre[b.index()].0 = counter;
        counter += 1;
        walk.push((b, true));
        for &c in children[b.index()].iter().rev() {
            walk.push((c, false));
        }
    }
    DomTree {
        idom,
        rpo_index,
        rpo,
        preds,
        children,
        pre,
    }
}

/// Immediate dominators over depth-first preorder numbers (vertex 0 is
/// the root): `parent[w]` is the depth-first parent of `w > 0`, and
/// `preds(w, out)` appends the numbers of `w`'s predecessors (the
/// reachable ones) to `out`. Gives the immediate dominator of each vertex
/// (0 for the root).
pub(crate) fn immediate_dominators(
    parent: &[usize],
    preds: impl Fn(usize, &mut Vec<usize>),
) -> Vec<usize> {
    let m = parent.len();
    let mut lt = LengauerTarjan {
        semi: (0..m).collect(),
        label: (0..m).collect(),
        ancestor: vec![usize::MAX; m],
        path: Vec::new(),
    };
    let mut idom = vec![0usize; m];
    // The vertices whose semidominator is `v`, as linked lists (the order
    // within a bucket does not change the result).
    let mut bucket_head = vec![usize::MAX; m];
    let mut bucket_next = vec![usize::MAX; m];
    let mut pred_numbers = Vec::new();
    for w in (1..m).rev() {
        pred_numbers.clear();
        preds(w, &mut pred_numbers);
        for &p in &pred_numbers {
            let u = lt.eval(p);
            lt.semi[w] = lt.semi[w].min(lt.semi[u]);
        }
        bucket_next[w] = bucket_head[lt.semi[w]];
        bucket_head[lt.semi[w]] = w;
        lt.ancestor[w] = parent[w];
        let mut v = std::mem::replace(&mut bucket_head[parent[w]], usize::MAX);
        while v != usize::MAX {
            let u = lt.eval(v);
            idom[v] = if lt.semi[u] < lt.semi[v] {
                u
            } else {
                parent[w]
            };
            v = bucket_next[v];
        }
    }
    for w in 1..m {
        if idom[w] != lt.semi[w] {
            idom[w] = idom[idom[w]];
        }
    }
    idom
}

/// The forest of Lengauer and Tarjan's algorithm, over depth-first
/// numbers.
struct LengauerTarjan {
    /// Semidominator of each vertex.
    semi: Vec<usize>,
    /// The vertex of least `semi` on the compressed path above each one.
    label: Vec<usize>,
    /// Parent in the forest (`usize::MAX` for a root).
    ancestor: Vec<usize>,
    /// Scratch for [`LengauerTarjan::compress`] (kept to allocate once).
    path: Vec<usize>,
}

impl LengauerTarjan {
    /// The vertex of least semidominator on the forest path to `v`.
    fn eval(&mut self, v: usize) -> usize {
        if self.ancestor[v] == usize::MAX {
            return v;
        }
        self.compress(v);
        self.label[v]
    }

    /// Path compression, iterative (paths can be as long as the function).
    fn compress(&mut self, v: usize) {
        let mut u = v;
        while self.ancestor[self.ancestor[u]] != usize::MAX {
            self.path.push(u);
            u = self.ancestor[u];
        }
        while let Some(x) = self.path.pop() {
            let a = self.ancestor[x];
            if self.semi[self.label[a]] < self.semi[self.label[x]] {
                self.label[x] = self.label[a];
            }
            self.ancestor[x] = self.ancestor[a];
        }
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
    let preds = &dom.preds;
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

/// The test of a loop whose header `h` ends in `brif cond, stay, leave`
/// (the true edge stays in the loop, the false edge leaves it), where
/// `cond` is an integer comparison computed in the header: that
/// comparison. Counted-loop passes (`strip`, `rce`) start from it.
pub fn header_int_test(f: &Func, h: Block, in_loop: impl Fn(Block) -> bool) -> Option<Inst> {
    let Term::Branch {
        cond,
        then_dest,
        else_dest,
    } = &f.block(h).term
    else {
        return None;
    };
    if !in_loop(then_dest.block) || in_loop(else_dest.block) {
        return None;
    }
    let test = f.def_inst(*cond)?;
    let t = f.inst(test);
    let compares_ints = matches!(t.op, Op::Icmp(_)) && f.ty(t.args[0]) == Type::Int;
    (compares_ints && f.block(h).insts.contains(&test)).then_some(test)
}
