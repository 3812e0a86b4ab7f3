/** Fetches a page of a running ui server (blob2pg ui) as text, for the page tests. */
export async function getPage(base: string, path: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(new URL(path, base));
  return { status: res.status, text: await res.text(), headers: res.headers };
}
