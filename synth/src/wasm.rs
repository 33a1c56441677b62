//! Small but well-formed WASM modules for contract uploads, so the contract
//! code table has real section counts to report. Each module opens with a
//! custom section `synth` holding its own counts, from which the cost inputs
//! of `ContractCodeEntryExt::V1` entries are read back without a parser.

use stellar_xdr::{ContractCodeCostInputs, ExtensionPoint};

use super::rng::Rng;

fn leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn section(out: &mut Vec<u8>, id: u8, body: &[u8]) {
    out.push(id);
    leb(out, body.len() as u32);
    out.extend_from_slice(body);
}

/// A vector section: the count, then `n` items.
fn vec_section(out: &mut Vec<u8>, id: u8, n: u32, item: impl Fn(&mut Vec<u8>, u32)) {
    let mut body = Vec::new();
    leb(&mut body, n);
    for i in 0..n {
        item(&mut body, i);
    }
    section(out, id, &body);
}

/// Counts in cost-input order: instructions, functions, globals, table
/// entries, types, data segments, elem segments, imports, exports, data bytes.
pub type Counts = [u32; 10];

/// A random module. Counts are drawn large enough (some above 63 and 127) to
/// exercise multi-byte unsigned LEB128.
pub fn module(rng: &mut Rng) -> Vec<u8> {
    let mut pick = |lo: u64, hi: u64| rng.range(lo as i64, hi as i64) as u32;
    let (types, imports, functions) = (pick(1, 80), pick(0, 10), pick(1, 200));
    let (table, globals, exports, elems) = (pick(0, 300), pick(0, 70), pick(1, 20), pick(0, 3));
    let data: Vec<u32> = (0..pick(0, 4)).map(|_| pick(1, 200)).collect();
    let body_nops: Vec<u32> = (0..functions).map(|_| pick(0, 30)).collect();
    let instructions: u32 = body_nops.iter().map(|n| n + 1).sum();
    let counts: Counts =
        [instructions, functions, globals, table, types, data.len() as u32, elems, imports, exports, data.iter().sum()];
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    let mut own = vec![5];
    own.extend_from_slice(b"synth");
    for c in counts {
        own.extend_from_slice(&c.to_le_bytes());
    }
    section(&mut m, 0, &own);
    vec_section(&mut m, 1, types, |b, _| b.extend_from_slice(&[0x60, 0, 0]));
    vec_section(&mut m, 2, imports, |b, i| {
        b.extend_from_slice(&[1, b'm', 2, b'f', b'a' + (i % 26) as u8, 0x00, 0]);
    });
    vec_section(&mut m, 3, functions, |b, _| b.push(0));
    vec_section(&mut m, 4, 1, |b, _| {
        b.extend_from_slice(&[0x70, 0]);
        leb(b, table);
    });
    vec_section(&mut m, 6, globals, |b, _| b.extend_from_slice(&[0x7e, 0, 0x42, 0, 0x0b]));
    vec_section(&mut m, 7, exports, |b, i| b.extend_from_slice(&[2, b'e', b'a' + (i % 26) as u8, 0x00, 0]));
    vec_section(&mut m, 9, elems, |b, _| b.extend_from_slice(&[1, 0, 0]));
    vec_section(&mut m, 10, functions, |b, i| {
        let n = body_nops[i as usize];
        leb(b, n + 2);
        b.push(0);
        b.extend(std::iter::repeat_n(0x01, n as usize));
        b.push(0x0b);
    });
    vec_section(&mut m, 11, data.len() as u32, |b, i| {
        b.push(1);
        leb(b, data[i as usize]);
        b.extend(std::iter::repeat_n(0xab, data[i as usize] as usize));
    });
    m
}

/// The counts a module from [`module`] declares about itself.
pub fn declared_counts(code: &[u8]) -> Option<Counts> {
    let own = code.get(8..)?;
    if own.first() != Some(&0) || own.get(2..8)? != b"\x05synth" {
        return None;
    }
    let mut out = [0u32; 10];
    for (i, c) in out.iter_mut().enumerate() {
        *c = u32::from_le_bytes(own.get(8 + 4 * i..12 + 4 * i)?.try_into().ok()?);
    }
    Some(out)
}

/// Cost inputs as stellar-core stores them on a `ContractCodeEntryExt::V1` entry.
pub fn cost_inputs(c: Counts) -> ContractCodeCostInputs {
    ContractCodeCostInputs {
        ext: ExtensionPoint::V0,
        n_instructions: c[0],
        n_functions: c[1],
        n_globals: c[2],
        n_table_entries: c[3],
        n_types: c[4],
        n_data_segments: c[5],
        n_elem_segments: c[6],
        n_imports: c[7],
        n_exports: c[8],
        n_data_segment_bytes: c[9],
    }
}
