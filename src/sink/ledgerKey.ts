/** One blob version loaded into one table: the ledger's key (ledger.ts), also named in prepared-transaction ids (preparedLoads.ts). */
export interface LedgerKey {
  targetTable: string;
  blobUrl: string;
  etag: string;
}
