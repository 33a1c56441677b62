//! WASM module section counts for `contract_code_snapshot_v1`, used when the
//! code entry carries no cost inputs (`ContractCodeEntryExt::V0`).
//!
//! Only the section headers and the few vectors whose contents matter are
//! read (table limits, data segment lengths); function bodies are not
//! decoded, so the instruction count is not produced here. Every integer is
//! unsigned LEB128 (the Go tool decoded counts as signed). Any malformed or
//! truncated module gives `None`, never a panic.

/// The soroban-env cost-input counts a section walk can give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WasmCounts {
    pub functions: u64,
    pub globals: u64,
    pub table_entries: u64,
    pub types: u64,
    pub data_segments: u64,
    pub elem_segments: u64,
    pub imports: u64,
    pub exports: u64,
    pub data_segment_bytes: u64,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Unsigned LEB128 `u32`: at most 5 bytes, no bits beyond 32.
    fn u32(&mut self) -> Option<u32> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.byte()?;
            let bits = u32::from(b & 0x7f);
            if i == 4 && bits > 0x0f {
                return None;
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Skips a signed LEB128 of at most `max` bytes.
    fn skip_leb(&mut self, max: usize) -> Option<()> {
        for _ in 0..max {
            if self.byte()? & 0x80 == 0 {
                return Some(());
            }
        }
        None
    }

    /// Skips a constant expression up to its `end` (0x0B).
    fn skip_const_expr(&mut self) -> Option<()> {
        loop {
            match self.byte()? {
                0x0b => return Some(()),
                0x41 => self.skip_leb(5)?,
                0x42 => self.skip_leb(10)?,
                0x23 | 0xd2 => {
                    self.u32()?;
                }
                0xd0 => {
                    self.byte()?;
                }
                // Extended constant expressions: i32/i64 add, sub, mul.
                0x6a | 0x6b | 0x6c | 0x7c | 0x7d | 0x7e => {}
                _ => return None,
            }
        }
    }
}

/// Counts a module's sections; `None` when it is not a well-formed module.
pub fn count_sections(code: &[u8]) -> Option<WasmCounts> {
    let mut r = Reader { b: code, pos: 0 };
    if r.take(4)? != b"\0asm" || r.take(4)? != [1, 0, 0, 0] {
        return None;
    }
    let mut c = WasmCounts::default();
    while r.pos < code.len() {
        let id = r.byte()?;
        let size = r.u32()? as usize;
        let body = r.take(size)?;
        let mut s = Reader { b: body, pos: 0 };
        match id {
            1 => c.types = u64::from(s.u32()?),
            2 => c.imports = u64::from(s.u32()?),
            3 => c.functions = u64::from(s.u32()?),
            4 => c.table_entries = table_entries(&mut s)?,
            6 => c.globals = u64::from(s.u32()?),
            7 => c.exports = u64::from(s.u32()?),
            9 => c.elem_segments = u64::from(s.u32()?),
            11 => (c.data_segments, c.data_segment_bytes) = data_segments(&mut s)?,
            _ => {}
        }
    }
    Some(c)
}

/// Sum of the tables' initial sizes.
fn table_entries(s: &mut Reader<'_>) -> Option<u64> {
    let n = s.u32()?;
    let mut total = 0u64;
    for _ in 0..n {
        s.byte()?; // reference type
        let flags = s.byte()?;
        total += u64::from(s.u32()?);
        if flags & 1 == 1 {
            s.u32()?;
        }
    }
    Some(total)
}

/// Number of data segments and the sum of their byte lengths.
fn data_segments(s: &mut Reader<'_>) -> Option<(u64, u64)> {
    let n = s.u32()?;
    let mut bytes = 0u64;
    for _ in 0..n {
        match s.u32()? {
            0 => s.skip_const_expr()?,
            1 => {}
            2 => {
                s.u32()?;
                s.skip_const_expr()?;
            }
            _ => return None,
        }
        let len = s.u32()?;
        s.take(len as usize)?;
        bytes += u64::from(len);
    }
    Some((u64::from(n), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(id: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![id];
        v.extend(leb(body.len() as u32));
        v.extend_from_slice(body);
        v
    }

    fn leb(mut v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn counts_a_module_with_large_unsigned_counts() {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend(section(1, &[0x40])); // 64 types: signed LEB128 would read -64
        m.extend(section(3, &leb(300)));
        m.extend(section(4, &[1, 0x70, 0x01, 0x90, 0x03, 0xff, 0x03])); // min 400, max 511
        m.extend(section(0, b"\x04namexyz"));
        // two segments: active (i32.const 8) of 3 bytes, passive of 2 bytes
        m.extend(section(11, &[2, 0, 0x41, 8, 0x0b, 3, 1, 2, 3, 1, 2, 9, 9]));
        let c = count_sections(&m).unwrap();
        assert_eq!((c.types, c.functions, c.table_entries), (64, 300, 400));
        assert_eq!((c.data_segments, c.data_segment_bytes), (2, 5));
    }

    #[test]
    fn malformed_modules_give_none() {
        assert_eq!(count_sections(b"\0asm\x01\0\0"), None);
        assert_eq!(count_sections(b"garbage!"), None);
        assert_eq!(count_sections(b"\0asm\x01\0\0\0\x01\x05\x01"), None, "section longer than the module");
        assert_eq!(count_sections(b"\0asm\x01\0\0\0\x01\x06\xff\xff\xff\xff\xff\x01"), None, "LEB over 32 bits");
        assert_eq!(count_sections(b"\0asm\x01\0\0\0").unwrap(), WasmCounts::default());
    }
}
