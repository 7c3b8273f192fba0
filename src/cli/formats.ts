/** Output formats of `scan` (kept apart so the command table loads without the scan command). */
export const SCAN_FORMATS = ['text', 'json', 'sarif', 'github'] as const;
