/**
 * The one place the page turns values into HTML. Every `${value}` in an html`…` template is
 * escaped unless it is itself Html made by html`…` (or raw(), for the fixed stylesheet and
 * script): blob names, error messages and pipeline names are hostile input, rendered as
 * text. Attributes are always quoted in the templates, and the escaping covers both quotes,
 * so a value cannot leave its attribute either.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => (out += render(value) + strings[i + 1]!));
  return new Html(out);
}

/** Trusted markup written in this code base (never data). */
export function raw(text: string): Html {
  return new Html(text);
}
