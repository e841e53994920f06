/* The fields of a libjpeg decompressor that `src/decode/huffman.rs` reads or sets, by name.
 *
 * They are private in mozjpeg-sys's Rust mirror of the struct, and their offsets depend on how
 * the library was configured; compiling this file against the same headers (the `include` that
 * mozjpeg-sys exports) gives the layout the library itself was built with. */
#include <stddef.h>
#include <stdio.h>
#define JPEG_INTERNALS
#include "jpeglib.h"
/* jpeglib.h includes jpegint.h when JPEG_INTERNALS is defined. */

/* One scan as the Huffman decoder sees it; mirrored by `ScanInfo` in huffman.rs. */
struct lgd_scan_info {
  int blocks_in_mcu;
  int component[D_MAX_BLOCKS_IN_MCU]; /* the block's component, as an index into the scan */
  int dc_table[D_MAX_BLOCKS_IN_MCU];
  int ac_table[D_MAX_BLOCKS_IN_MCU];
  int dc_needed[D_MAX_BLOCKS_IN_MCU];
  int ac_needed[D_MAX_BLOCKS_IN_MCU];
  JHUFF_TBL *dc_tables[NUM_HUFF_TBLS];
  JHUFF_TBL *ac_tables[NUM_HUFF_TBLS];
};

/* After jpeg_start_decompress: fills `info` and answers 1 when the file is one sequential,
 * Huffman-coded scan without restart markers whose entropy data is not read yet, else 0. */
int lgd_scan_info(j_decompress_ptr cinfo, struct lgd_scan_info *info)
{
  int blkn, ci;
  if (cinfo->progressive_mode || cinfo->arith_code || cinfo->restart_interval ||
      cinfo->inputctl->has_multiple_scans || cinfo->input_iMCU_row != 0 ||
      cinfo->unread_marker != 0 || cinfo->blocks_in_MCU > D_MAX_BLOCKS_IN_MCU ||
      cinfo->Ss != 0 || cinfo->Se != DCTSIZE2 - 1 || cinfo->Ah != 0 || cinfo->Al != 0)
    return 0;
  info->blocks_in_mcu = cinfo->blocks_in_MCU;
  for (blkn = 0; blkn < cinfo->blocks_in_MCU; blkn++) {
    jpeg_component_info *comp;
    ci = cinfo->MCU_membership[blkn];
    comp = cinfo->cur_comp_info[ci];
    info->component[blkn] = ci;
    info->dc_table[blkn] = comp->dc_tbl_no;
    info->ac_table[blkn] = comp->ac_tbl_no;
    /* As libjpeg's decoder: a component no output needs is skipped, and at 1/8 scale only the
     * DC coefficient of each block is used. */
    info->dc_needed[blkn] = comp->component_needed != 0;
#if JPEG_LIB_VERSION >= 70
    info->ac_needed[blkn] = comp->component_needed && comp->DCT_h_scaled_size > 1;
#else
    info->ac_needed[blkn] = comp->component_needed && comp->DCT_scaled_size > 1;
#endif
  }
  for (ci = 0; ci < NUM_HUFF_TBLS; ci++) {
    info->dc_tables[ci] = cinfo->dc_huff_tbl_ptrs[ci];
    info->ac_tables[ci] = cinfo->ac_huff_tbl_ptrs[ci];
  }
  return 1;
}

/* Makes `decode_mcu` the decompressor's entropy decoder for the rest of the scan. */
void lgd_set_decode_mcu(j_decompress_ptr cinfo, boolean (*decode_mcu)(j_decompress_ptr, JBLOCKROW *))
{
  cinfo->entropy->decode_mcu = decode_mcu;
}
