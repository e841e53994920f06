//! The Huffman decoding of a baseline JPEG's training-view window, done here in place of
//! libjpeg-turbo's `decode_mcu`, which libjpeg then calls through its own function pointer.
//!
//! Why by hand: entropy decoding is about half of the host MoCo-v2 path's CPU time and cannot be
//! skipped (the rows above a crop must be decoded to find where its rows start). libjpeg-turbo
//! looks up 8 bits for the code, then reads the coefficient's extra bits, and refills its bit
//! buffer a byte at a time, testing each for 0xFF. Here one lookup of 10 bits gives the code
//! length, the run and the coefficient's value together for the short codes that make up most of
//! a photo's data, and a refill loads 4 to 7 bytes at once when none of them is 0xFF. No kept
//! crate decodes into libjpeg's coefficient blocks (zune-jpeg and jpeg-decoder own the whole
//! decode, and measured slower than libjpeg-turbo here). A Huffman code has one decoding, so the
//! coefficients, and the pixels, are libjpeg's: the tests compare them.
//!
//! Scope (`lgd_scan_info` in `csrc/libjpeg_scan.c`): one sequential Huffman-coded scan without
//! restart markers; any other file keeps libjpeg's decoder. Corrupt data — a code no table has,
//! or bits needed past a marker or past the end of the buffer, where libjpeg warns — is an
//! error, which the caller turns into the full decode, as it does libjpeg's warnings.

use std::os::raw::c_int;

use mozjpeg_sys::{boolean, jpeg_decompress_struct, JBLOCK, JBLOCKROW, JHUFF_TBL};

/// Bits looked up at once.
const LOOKUP_BITS: u32 = 10;
/// An entry whose value is included (the code and its extra bits fit in the lookup).
const COMPLETE: u32 = 0x80;

/// Position in a block of the k-th coefficient in the file's zig-zag order (ITU T.81, figure
/// A.6), then 63 for the k up to 78 that corrupt data can reach, as libjpeg's table does.
const NATURAL_ORDER: [u8; 128] = {
    let zigzag: [u8; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
        21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60,
        61, 54, 47, 55, 62, 63,
    ];
    let mut order = [63u8; 128];
    let mut k = 0;
    while k < 64 {
        order[k] = zigzag[k];
        k += 1;
    }
    order
};

/// What `lgd_scan_info` reads of a decompressor (the C struct of that name).
#[repr(C)]
struct ScanInfo {
    blocks_in_mcu: c_int,
    component: [c_int; 10],
    dc_table: [c_int; 10],
    ac_table: [c_int; 10],
    dc_needed: [c_int; 10],
    ac_needed: [c_int; 10],
    dc_tables: [*const JHUFF_TBL; 4],
    ac_tables: [*const JHUFF_TBL; 4],
}

/// The decoder libjpeg calls for each MCU.
pub(crate) type DecodeMcu = unsafe extern "C-unwind" fn(&mut jpeg_decompress_struct, *mut JBLOCKROW) -> boolean;

extern "C" {
    fn lgd_scan_info(cinfo: &mut jpeg_decompress_struct, info: &mut ScanInfo) -> c_int;
    fn lgd_set_decode_mcu(cinfo: &mut jpeg_decompress_struct, decode_mcu: DecodeMcu);
}

/// The entropy-coded data is corrupt (libjpeg would warn, or fail).
#[derive(Debug)]
pub(crate) struct Corrupt;

/// One Huffman table, ready to decode.
struct Table {
    /// By the next 10 bits: bits to consume (0: the code is longer), [`COMPLETE`], the symbol in
    /// bits 8..16 and, when complete, the coefficient's value as an i16 in bits 16..32.
    fast: [u32; 1 << LOOKUP_BITS],
    /// The largest code of each length, −1 when there is none.
    max_code: [i32; 17],
    /// Index in `values` of a length's first code, minus that code.
    offset: [i32; 17],
    values: [u8; 256],
}

/// A JPEG's "extend": `size` extra bits as the signed value they code.
fn extend(bits: u32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if bits < 1 << (size - 1) {
        bits as i32 - (1 << size) + 1
    } else {
        bits as i32
    }
}

impl Table {
    /// The canonical code of `table` (`dc`: symbols are sizes 0..=15). `None` for a table that
    /// does not make a prefix code, which libjpeg has refused before this is asked.
    fn new(table: &JHUFF_TBL, dc: bool) -> Option<Box<Self>> {
        let mut t =
            Box::new(Self { fast: [0; 1 << LOOKUP_BITS], max_code: [-1; 17], offset: [0; 17], values: table.huffval });
        let (mut code, mut index) = (0u32, 0usize);
        for len in 1..=16u32 {
            let count = usize::from(table.bits[len as usize]);
            if index + count > 256 {
                return None;
            }
            t.offset[len as usize] = index as i32 - code as i32;
            for _ in 0..count {
                let symbol = u32::from(table.huffval[index]);
                if code >= 1 << len || (dc && symbol > 15) {
                    return None;
                }
                if len <= LOOKUP_BITS {
                    let size = if dc { symbol } else { symbol & 15 };
                    let spare = LOOKUP_BITS - len;
                    for fill in 0..1u32 << spare {
                        let next = (code << spare) | fill;
                        t.fast[next as usize] = if len + size <= LOOKUP_BITS {
                            let extra = (next >> (spare - size)) & ((1 << size) - 1);
                            ((extend(extra, size) as u32) << 16) | (symbol << 8) | COMPLETE | (len + size)
                        } else {
                            (symbol << 8) | len
                        };
                    }
                }
                code += 1;
                index += 1;
            }
            if count > 0 {
                t.max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Some(t)
    }
}

/// The bits of the entropy-coded data, most significant first, with JPEG's byte stuffing undone.
/// `Copy`, and the cold paths take and return it by value, so that a decoding loop keeps its
/// copy in registers (a reference passed out of line would keep it in memory).
#[derive(Clone, Copy)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next `count` bits, left-aligned; the bits below them are zero.
    acc: u64,
    count: u32,
    /// Zero bits appended past a marker or the end of the data (the last `padding` of `count`).
    padding: u32,
    at_end: bool,
}

impl BitReader<'_> {
    /// Makes at least 32 bits available: enough for a code and its extra bits.
    #[inline(always)]
    fn refill(&mut self) {
        if self.count >= 32 {
            return;
        }
        if let Some(next) = self.data.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(next.try_into().expect("8 bytes"));
            const LOW: u64 = 0x0101_0101_0101_0101;
            let has_ff = (!word).wrapping_sub(LOW) & word & (LOW << 7) != 0;
            if !has_ff {
                let bits = 8 * ((63 - self.count) / 8);
                self.acc |= (word >> (64 - bits)) << (64 - self.count - bits);
                self.pos += (bits / 8) as usize;
                self.count += bits;
                return;
            }
        }
        *self = self.refill_bytes();
    }

    /// Byte by byte, near a 0xFF or the end of the data.
    #[inline(never)]
    fn refill_bytes(mut self) -> Self {
        while self.count <= 56 {
            let byte = self.next_byte();
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
        self
    }

    /// The next data byte: 0xFF 0x00 is a 0xFF, 0xFF fill bytes before it are dropped, and 0xFF
    /// before anything else is a marker, the end of the scan's data (zeros from there on).
    fn next_byte(&mut self) -> u8 {
        if !self.at_end {
            match self.data.get(self.pos) {
                Some(&byte) if byte != 0xFF => {
                    self.pos += 1;
                    return byte;
                }
                Some(_) => {
                    let after = self.pos + 1 + self.data[self.pos + 1..].iter().take_while(|&&b| b == 0xFF).count();
                    if self.data.get(after) == Some(&0) {
                        self.pos = after + 1;
                        return 0xFF;
                    }
                }
                None => {}
            }
            self.at_end = true;
        }
        self.padding += 8;
        0
    }

    #[inline(always)]
    fn consume(&mut self, bits: u32) {
        self.acc <<= bits;
        self.count -= bits;
    }

    /// The next `bits` (1..=16) bits, consumed.
    #[inline(always)]
    fn take(&mut self, bits: u32) -> u32 {
        let value = (self.acc >> (64 - bits)) as u32;
        self.consume(bits);
        value
    }

    /// Decodes a symbol of `t` and its value (`dc`: the symbol is the size). Needs 32 bits.
    #[inline(always)]
    fn decode(&mut self, t: &Table, dc: bool) -> Result<(u32, i32), Corrupt> {
        let entry = t.fast[(self.acc >> (64 - LOOKUP_BITS)) as usize];
        if entry & COMPLETE != 0 {
            self.consume(entry & 31);
            return Ok(((entry >> 8) & 0xFF, entry as i32 >> 16));
        }
        let symbol = if entry != 0 {
            self.consume(entry & 31);
            (entry >> 8) & 0xFF
        } else {
            let (symbol, len) = long_code(self.acc, t).ok_or(Corrupt)?;
            self.consume(len);
            symbol
        };
        let size = if dc { symbol } else { symbol & 15 };
        let value = if size == 0 { 0 } else { extend(self.take(size), size) };
        Ok((symbol, value))
    }
}

/// The symbol and length of a code longer than the lookup at the top of `acc`, found by its
/// length as in the canonical code; `None` when no code of `t` starts there.
#[cold]
fn long_code(acc: u64, t: &Table) -> Option<(u32, u32)> {
    let next = (acc >> 48) as i32;
    (LOOKUP_BITS + 1..=16).find_map(|len| {
        let code = next >> (16 - len);
        (code <= t.max_code[len as usize])
            .then(|| (u32::from(t.values[((code + t.offset[len as usize]) & 0xFF) as usize]), len))
    })
}

/// Where each block of an MCU goes.
#[derive(Clone, Copy)]
struct BlockPlan {
    component: usize,
    dc: usize,
    ac: usize,
    dc_needed: bool,
    ac_needed: bool,
}

/// The entropy decoder of one scan.
pub(crate) struct EntropyDecoder<'a> {
    bits: BitReader<'a>,
    blocks: Vec<BlockPlan>,
    dc_tables: Vec<Box<Table>>,
    ac_tables: Vec<Box<Table>>,
    /// The previous block's DC value of each component of the scan.
    last_dc: [i32; 4],
}

impl<'a> EntropyDecoder<'a> {
    /// A decoder for the scan `cinfo` is about to decode (after `jpeg_start_decompress`), reading
    /// from `rest`, the unread part of the file; `None` when it is not a scan this decoder handles.
    ///
    /// # Safety
    /// `cinfo` is a decompressor started on a file whose unread part is `rest`.
    pub(crate) unsafe fn for_scan(cinfo: &mut jpeg_decompress_struct, rest: &'a [u8]) -> Option<Self> {
        let mut info: ScanInfo = std::mem::zeroed();
        if lgd_scan_info(cinfo, &mut info) == 0 {
            return None;
        }
        let blocks_in_mcu = usize::try_from(info.blocks_in_mcu).ok().filter(|&n| n <= 10)?;
        let (mut dc_tables, mut ac_tables, mut blocks) = (Vec::new(), Vec::new(), Vec::with_capacity(blocks_in_mcu));
        // Each table once, in the order first used.
        let slot = |tables: &mut Vec<Box<Table>>, seen: &mut Vec<c_int>, number: c_int, dc: bool| -> Option<usize> {
            if let Some(i) = seen.iter().position(|&n| n == number) {
                return Some(i);
            }
            let ptrs = if dc { info.dc_tables } else { info.ac_tables };
            let table = *ptrs.get(usize::try_from(number).ok()?)?;
            tables.push(Table::new(table.as_ref()?, dc)?);
            seen.push(number);
            Some(tables.len() - 1)
        };
        let (mut dc_seen, mut ac_seen) = (Vec::new(), Vec::new());
        for b in 0..blocks_in_mcu {
            blocks.push(BlockPlan {
                component: usize::try_from(info.component[b]).ok().filter(|&c| c < 4)?,
                dc: slot(&mut dc_tables, &mut dc_seen, info.dc_table[b], true)?,
                ac: slot(&mut ac_tables, &mut ac_seen, info.ac_table[b], false)?,
                dc_needed: info.dc_needed[b] != 0,
                ac_needed: info.ac_needed[b] != 0,
            });
        }
        let bits = BitReader { data: rest, pos: 0, acc: 0, count: 0, padding: 0, at_end: false };
        Some(Self { bits, blocks, dc_tables, ac_tables, last_dc: [0; 4] })
    }

    /// Makes `decode_mcu` (which calls [`EntropyDecoder::decode_mcu`]) libjpeg's entropy decoder.
    ///
    /// # Safety
    /// As for [`EntropyDecoder::for_scan`]; `decode_mcu` must find this decoder from `cinfo`.
    pub(crate) unsafe fn install(cinfo: &mut jpeg_decompress_struct, decode_mcu: DecodeMcu) {
        lgd_set_decode_mcu(cinfo, decode_mcu);
    }

    /// The data not read yet (for libjpeg's source manager).
    pub(crate) fn unread(&self) -> &'a [u8] {
        &self.bits.data[self.bits.pos..]
    }

    /// Decodes one MCU into `mcu`'s blocks (zeroed by libjpeg), or only past it when `mcu` is null
    /// (rows above a crop), as libjpeg's `decode_mcu`.
    ///
    /// # Safety
    /// `mcu` is null or points at one block pointer per block of the MCU.
    pub(crate) unsafe fn decode_mcu(&mut self, mcu: *const JBLOCKROW) -> Result<(), Corrupt> {
        let mut reader = self.bits;
        let bits = &mut reader;
        for (b, plan) in self.blocks.iter().enumerate() {
            let mut block: Option<&mut JBLOCK> = if mcu.is_null() { None } else { (*mcu.add(b)).as_mut() };
            bits.refill();
            let (_, diff) = bits.decode(&self.dc_tables[plan.dc], true)?;
            if plan.dc_needed {
                let dc = &mut self.last_dc[plan.component];
                *dc = dc.wrapping_add(diff);
                if let Some(block) = block.as_deref_mut() {
                    block[0] = *dc as i16;
                }
            }
            let ac: &Table = &self.ac_tables[plan.ac];
            match block {
                Some(block) if plan.ac_needed => {
                    let mut k = 1;
                    while k < 64 {
                        bits.refill();
                        let (symbol, value) = bits.decode(ac, false)?;
                        let (run, size) = ((symbol >> 4) as usize, symbol & 15);
                        if size != 0 {
                            k += run;
                            block[usize::from(NATURAL_ORDER[k & 127] & 63)] = value as i16;
                        } else if run == 15 {
                            k += 15;
                        } else {
                            break;
                        }
                        k += 1;
                    }
                }
                _ => {
                    let mut k = 1;
                    while k < 64 {
                        bits.refill();
                        let (symbol, _) = bits.decode(ac, false)?;
                        let (run, size) = ((symbol >> 4) as usize, symbol & 15);
                        if size == 0 && run != 15 {
                            break;
                        }
                        k += run + 1;
                    }
                }
            }
        }
        self.bits = reader;
        // Bits taken from the zeros past the end: the data ran out inside this MCU.
        if reader.padding > reader.count {
            return Err(Corrupt);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
