/**
 * CSV (RFC 4180) that spreadsheets open safely: every cell quoted, and a cell that a spreadsheet
 * would read as a formula (starting with =, +, -, @, tab or carriage return; OWASP "CSV injection")
 * gets a leading apostrophe, so it is shown as text and never evaluated.
 */
export type CsvValue = string | number | boolean | null | undefined;

export function csvCell(value: CsvValue): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}

export function toCsv(rows: readonly (readonly CsvValue[])[]): string {
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
