//! Every emitter of [`Asm`], decoded by `iced-x86` and compared with the
//! Intel-syntax text it must mean; every register in every position, and
//! the bases with special encodings (`rsp`/`r12` need a SIB byte,
//! `rbp`/`r13` a displacement).

use super::runtime::ctx;
use super::*;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

const Q: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const D: [&str; 16] = [
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d",
    "r13d", "r14d", "r15d",
];
const B: [&str; 16] = [
    "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b",
    "r13b", "r14b", "r15b",
];

fn q(r: Gpr) -> &'static str {
    Q[r.num() as usize]
}

/// The instructions `emit` assembles, decoded: one text per instruction,
/// joined by "; ". Fails if any byte is left over or undecodable.
fn decode(emit: impl FnOnce(&mut Asm)) -> (String, usize) {
    let mut asm = Asm::new(64);
    emit(&mut asm);
    let code = asm.finish().expect("assembles");
    let mut decoder = Decoder::with_ip(64, &code, 0, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_signed_immediate_operands(true);
    options.set_space_after_operand_separator(true);
    options.set_branch_leading_zeros(false);
    options.set_uppercase_hex(false);
    let mut texts = Vec::new();
    while decoder.can_decode() {
        let instr = decoder.decode();
        assert!(!instr.is_invalid(), "invalid encoding {code:02x?}");
        let mut text = String::new();
        formatter.format(&instr, &mut text);
        texts.push(text);
    }
    (texts.join("; "), code.len())
}

fn check(emit: impl FnOnce(&mut Asm), expected: &str) {
    assert_eq!(decode(emit).0, expected);
}

/// `[base+disp]` as the formatter prints it.
fn mem_text(m: Mem) -> String {
    let mut s = format!("[{}", q(m.base));
    if let Some((index, scale)) = m.index {
        s += &format!("+{}", q(index));
        if scale != 1 {
            s += &format!("*{scale}");
        }
    }
    match m.disp {
        0 => {}
        d if d < 0 => s += &format!("-{}", hex(-(d as i64))),
        d => s += &format!("+{}", hex(d as i64)),
    }
    s + "]"
}

fn hex(v: i64) -> String {
    if v < 10 {
        v.to_string()
    } else {
        format!("0x{v:x}")
    }
}

/// Memory operands over every base, displacement size and index.
fn mems() -> Vec<Mem> {
    let mut out = Vec::new();
    for base in Gpr::ALL {
        for disp in [0, 8, -8, 0x7F, 0x80, -0x81, 0x1234_5678] {
            out.push(Mem::base_disp(base, disp));
        }
        for index in Gpr::ALL.into_iter().filter(|&i| i != Gpr::Rsp) {
            out.push(Mem::indexed(base, index, 1 << (index.num() % 4), 8));
        }
    }
    out
}

#[test]
fn moves_between_every_pair_of_registers() {
    for d in Gpr::ALL {
        for s in Gpr::ALL {
            check(|a| a.mov_rr(d, s), &format!("mov {}, {}", q(d), q(s)));
            check(
                |a| a.alu_rr(Alu::Add, d, s),
                &format!("add {}, {}", q(d), q(s)),
            );
            check(|a| a.imul_rr(d, s), &format!("imul {}, {}", q(d), q(s)));
            check(
                |a| a.cmov(Cond::L, d, s),
                &format!("cmovl {}, {}", q(d), q(s)),
            );
            check(
                |a| a.movzx_r8(d, s),
                &format!("movzx {}, {}", D[d.num() as usize], B[s.num() as usize]),
            );
            check(|a| a.test_rr(d, s), &format!("test {}, {}", q(d), q(s)));
        }
    }
}

#[test]
fn memory_operands_over_every_base_and_index() {
    for m in mems() {
        let t = mem_text(m);
        for r in [Gpr::Rax, Gpr::Rbp, Gpr::R12, Gpr::R15] {
            check(|a| a.mov_rm(r, m), &format!("mov {}, {t}", q(r)));
            check(|a| a.mov_mr(m, r), &format!("mov {t}, {}", q(r)));
            check(|a| a.lea(r, m), &format!("lea {}, {t}", q(r)));
        }
    }
}

#[test]
fn memory_operands_take_their_shortest_encoding() {
    let len = |m: Mem| decode(|a| a.mov_rm(Gpr::Rax, m)).1;
    // REX.W 8B ModRM
    assert_eq!(len(Mem::base_disp(Gpr::Rbx, 0)), 3);
    assert_eq!(len(Mem::base_disp(Gpr::Rbx, 8)), 4);
    assert_eq!(len(Mem::base_disp(Gpr::Rbx, 0x80)), 7);
    // rbp/r13 need a displacement, rsp/r12 a SIB byte.
    assert_eq!(len(Mem::base_disp(Gpr::Rbp, 0)), 4);
    assert_eq!(len(Mem::base_disp(Gpr::R13, 0)), 4);
    assert_eq!(len(Mem::base_disp(Gpr::Rsp, 0)), 4);
    assert_eq!(len(Mem::base_disp(Gpr::R12, 8)), 5);
    assert_eq!(decode(|a| a.alu_mi(Alu::Add, ctx(32), 1)).1, 5);
    assert_eq!(decode(|a| a.alu_ri(Alu::Cmp, Gpr::Rcx, -1)).1, 4);
}

#[test]
fn immediates_take_their_shortest_encoding() {
    let cases: [(i64, &str, usize); 6] = [
        (0, "xor r9d, r9d", 3),
        (5, "mov r9d, 5", 6),
        // A 32-bit immediate, shown signed; zero-extended to 64 bits.
        (0xFFFF_FFFF, "mov r9d, -1", 6),
        (-1, "mov r9, -1", 7),
        (i64::MIN, "mov r9, -0x8000000000000000", 10),
        (1 << 40, "mov r9, 0x10000000000", 10),
    ];
    for (imm, text, len) in cases {
        assert_eq!(decode(|a| a.mov_ri(Gpr::R9, imm)), (text.to_string(), len));
    }
    for r in Gpr::ALL {
        check(
            |a| a.mov_ri(r, 7),
            &format!("mov {}, 7", D[r.num() as usize]),
        );
        check(|a| a.mov_ri(r, -2), &format!("mov {}, -2", q(r)));
        check(|a| a.push(r), &format!("push {}", q(r)));
        check(|a| a.pop(r), &format!("pop {}", q(r)));
    }
}

#[test]
fn every_alu_form() {
    let m = Mem::base_disp(Gpr::R13, 16);
    let ops = [
        (Alu::Add, "add"),
        (Alu::Or, "or"),
        (Alu::And, "and"),
        (Alu::Sub, "sub"),
        (Alu::Xor, "xor"),
        (Alu::Cmp, "cmp"),
    ];
    for (op, name) in ops {
        check(
            |a| a.alu_rr(op, Gpr::R8, Gpr::Rdx),
            &format!("{name} r8, rdx"),
        );
        check(
            |a| a.alu_rm(op, Gpr::R11, m),
            &format!("{name} r11, [r13+0x10]"),
        );
        check(
            |a| a.alu_mr(op, m, Gpr::Rsi),
            &format!("{name} [r13+0x10], rsi"),
        );
        check(|a| a.alu_ri(op, Gpr::Rdi, -5), &format!("{name} rdi, -5"));
        check(
            |a| a.alu_ri(op, Gpr::R14, 1000),
            &format!("{name} r14, 0x3e8"),
        );
        check(
            |a| a.alu_mi(op, m, 3),
            &format!("{name} qword ptr [r13+0x10], 3"),
        );
        check(
            |a| a.alu_mi(op, m, -300),
            &format!("{name} qword ptr [r13+0x10], -0x12c"),
        );
    }
    check(|a| a.xor_r32i(Gpr::Rax, 1), "xor eax, 1");
    check(|a| a.xor_r32i(Gpr::R10, 1), "xor r10d, 1");
}

#[test]
fn every_other_integer_form() {
    for r in Gpr::ALL {
        let n = q(r);
        check(|a| a.neg(r), &format!("neg {n}"));
        check(|a| a.not(r), &format!("not {n}"));
        check(|a| a.shl_cl(r), &format!("shl {n}, cl"));
        check(|a| a.sar_cl(r), &format!("sar {n}, cl"));
        check(|a| a.shl_ri(r, 3), &format!("shl {n}, 3"));
        check(|a| a.sar_ri(r, 63), &format!("sar {n}, 0x3f"));
        check(|a| a.shr_ri(r, 1), &format!("shr {n}, 1"));
        check(|a| a.idiv(r), &format!("idiv {n}"));
        check(|a| a.btc_ri(r, 63), &format!("btc {n}, 0x3f"));
        check(|a| a.btr_ri(r, 63), &format!("btr {n}, 0x3f"));
        check(|a| a.call_reg(r), &format!("call {n}"));
        check(|a| a.jmp_reg(r), &format!("jmp {n}"));
        check(
            |a| a.setcc(Cond::E, r),
            &format!("sete {}", B[r.num() as usize]),
        );
        // The formatter writes `imul d, d, imm` as `imul d, imm`.
        let two = |d: Gpr, s: Gpr| match d == s {
            true => q(d).to_string(),
            false => format!("{}, {}", q(d), q(s)),
        };
        check(
            |a| a.imul_rri(r, Gpr::R12, 10),
            &format!("imul {}, 0xa", two(r, Gpr::R12)),
        );
        check(
            |a| a.imul_rri(Gpr::Rcx, r, 100_000),
            &format!("imul {}, 0x186a0", two(Gpr::Rcx, r)),
        );
    }
    check(
        |a| a.imul_rm(Gpr::R9, Mem::base_disp(Gpr::Rsp, 8)),
        "imul r9, [rsp+8]",
    );
    check(|a| a.cqo(), "cqo");
    check(
        |a| a.lock_xadd(Mem::indexed(Gpr::Rax, Gpr::Rcx, 8, 8), Gpr::Rdx),
        "lock xadd [rax+rcx*8+8], rdx",
    );
    check(
        |a| a.lock_xadd(Mem::base_disp(Gpr::R12, 0), Gpr::R9),
        "lock xadd [r12], r9",
    );
    check(
        |a| a.cmp_mi8(Mem::base_disp(Gpr::Rax, 0), 0),
        "cmp byte ptr [rax], 0",
    );
    check(
        |a| a.cmp_mi8(Mem::base_disp(Gpr::R13, 0), -1),
        "cmp byte ptr [r13], -1",
    );
    check(
        |a| a.call_mem(Mem::indexed(Gpr::Rax, Gpr::Rdx, 8, 0)),
        "call qword ptr [rax+rdx*8]",
    );
    check(
        |a| a.call_mem(Mem::base_disp(Gpr::R11, 0x50)),
        "call qword ptr [r11+0x50]",
    );
    check(|a| a.ret(), "ret");
    check(|a| a.int3(), "int3");
}

#[test]
fn every_condition() {
    let names = [
        "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
    ];
    for (cond, name) in Cond::ALL.into_iter().zip(names) {
        assert_eq!(cond.invert().invert(), cond);
        assert_ne!(cond.invert(), cond);
        check(|a| a.setcc(cond, Gpr::Rsi), &format!("set{name} sil"));
        check(
            |a| a.cmov(cond, Gpr::Rax, Gpr::R9),
            &format!("cmov{name} rax, r9"),
        );
        check(
            |a| {
                let l = a.label();
                a.bind(l);
                a.jcc(cond, l);
            },
            &format!("j{name} 0"),
        );
    }
    assert_eq!(Cond::L.invert(), Cond::Ge);
    assert_eq!(Cond::A.invert(), Cond::Be);
}

#[test]
fn every_sse_form() {
    let m = Mem::base_disp(Gpr::Rbx, 24);
    let ops = [
        (SseOp::Add, "addsd"),
        (SseOp::Sub, "subsd"),
        (SseOp::Mul, "mulsd"),
        (SseOp::Div, "divsd"),
        (SseOp::Min, "minsd"),
        (SseOp::Max, "maxsd"),
        (SseOp::Sqrt, "sqrtsd"),
    ];
    for (op, name) in ops {
        check(
            |a| a.sse_rr(op, Xmm(1), Xmm(9)),
            &format!("{name} xmm1, xmm9"),
        );
        check(
            |a| a.sse_rm(op, Xmm(12), m),
            &format!("{name} xmm12, [rbx+0x18]"),
        );
    }
    for x in 0..16u8 {
        let (d, s) = (Xmm(x), Xmm(15 - x));
        let (dn, sn) = (format!("xmm{x}"), format!("xmm{}", 15 - x));
        check(|a| a.movsd_rr(d, s), &format!("movsd {dn}, {sn}"));
        check(|a| a.movsd_rm(d, m), &format!("movsd {dn}, [rbx+0x18]"));
        check(|a| a.movsd_mr(m, d), &format!("movsd [rbx+0x18], {dn}"));
        check(|a| a.ucomisd_rr(d, s), &format!("ucomisd {dn}, {sn}"));
        check(|a| a.ucomisd_rm(d, m), &format!("ucomisd {dn}, [rbx+0x18]"));
        check(|a| a.andpd_rr(d, s), &format!("andpd {dn}, {sn}"));
        check(|a| a.orpd_rr(d, s), &format!("orpd {dn}, {sn}"));
        check(|a| a.xorpd_rr(d, s), &format!("xorpd {dn}, {sn}"));
        check(|a| a.xorps_rr(d, s), &format!("xorps {dn}, {sn}"));
        check(|a| a.movaps_rr(d, s), &format!("movaps {dn}, {sn}"));
        let r = Gpr::ALL[x as usize];
        check(|a| a.movq_xr(d, r), &format!("movq {dn}, {}", q(r)));
        check(|a| a.movq_rx(r, d), &format!("movq {}, {dn}", q(r)));
        check(|a| a.cvtsi2sd_rr(d, r), &format!("cvtsi2sd {dn}, {}", q(r)));
        check(
            |a| a.cvttsd2si_rr(r, d),
            &format!("cvttsd2si {}, {dn}", q(r)),
        );
    }
    check(
        |a| a.cvtsi2sd_rm(Xmm(0), Mem::base_disp(Gpr::Rbp, -8)),
        "cvtsi2sd xmm0, qword ptr [rbp-8]",
    );
}

#[test]
fn labels_and_rip_relative_addresses() {
    check(
        |a| {
            let after = a.label();
            a.lea_label(Gpr::R8, after);
            a.jmp(after);
            a.bind(after);
            a.mov_mi(ctx(64), 0);
        },
        "lea r8, [0xc]; jmp 0xc; mov qword ptr [r15+0x40], 0",
    );
    let mut asm = Asm::new(16);
    let never = asm.label();
    asm.jmp(never);
    assert!(asm.finish().is_err(), "an unbound label is an error");
}

#[test]
fn runtime_sequences_decode() {
    let (text, _) = decode(|a| a.call_helper(crate::abi::Helper::PrintInt));
    assert_eq!(
        text,
        "lea rax, [0x19]; mov [r15+0x40], rax; mov [r15+0x48], rbp; mov rdi, r15; \
         mov rax, [r15+8]; call qword ptr [rax+0x20]; mov qword ptr [r15+0x40], 0"
    );
    let (text, _) = decode(|a| {
        let stop = a.label();
        a.poll(stop);
        a.bind(stop);
    });
    assert_eq!(text, "mov rax, [r15+0x10]; cmp byte ptr [rax], 0; jne 0xd");
}

#[test]
fn align_pads_with_no_ops_to_the_boundary() {
    for start in 0..40usize {
        for align in [1usize, 16, 32] {
            let (text, len) = decode(|a| {
                for _ in 0..start {
                    a.int3();
                }
                a.align(align);
            });
            assert_eq!(
                len,
                start.next_multiple_of(align),
                "start {start} align {align}"
            );
            // Nothing but the int3s and then no-ops; at most one no-op
            // per 9 bytes of padding, rounded up.
            let padding: Vec<&str> = text
                .split("; ")
                .skip(start)
                .filter(|t| !t.is_empty())
                .collect();
            // (`66 90`, the two-byte no-op, decodes as `xchg ax, ax`.)
            let no_op = |t: &&str| t.starts_with("nop") || *t == "xchg ax, ax";
            assert!(padding.iter().all(no_op), "{text}");
            assert!(padding.len() <= (len - start).div_ceil(9), "{text}");
        }
    }
}
