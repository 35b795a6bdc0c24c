/**
 * The docs' relative links lead somewhere: every `[text](target)` of README.md and docs/*.md outside code
 * blocks names a file of the repository, and its `#anchor`, if any, a heading of that page, with the
 * anchors GitHub gives headings (github-slugger: lower case, punctuation dropped, spaces to hyphens, a
 * repeated heading numbered `-1`, `-2`…). Links with a scheme (`https:`) are not followed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
];

/** The lines of a page outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): Array<{ line: number; text: string }> {
  const found: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  text.split(/\r?\n/).forEach((line, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) fence = marker;
    else if (fence !== undefined && marker?.startsWith(fence)) fence = undefined;
    else if (fence === undefined) found.push({ line: index + 1, text: line });
  });
  return found;
}

/** The text GitHub shows for a heading's Markdown: link targets, code ticks and emphasis marks dropped. */
function headingText(markdown: string): string {
  return markdown
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*|\b_)(.+?)\1/g, '$2');
}

/** The anchors of a page's headings, as GitHub makes them. */
function anchorsOf(page: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  for (const { text } of proseLines(readFileSync(join(ROOT, page), 'utf8'))) {
    const heading = /^#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text);
    if (heading !== null) anchors.add(slugger.slug(headingText(heading[1]!)));
  }
  return anchors;
}

interface Link {
  /** `docs/store.md:42`. */
  where: string;
  href: string;
  /** The linked file, relative to the repository. */
  file: string;
  anchor: string | undefined;
}

function linksOf(page: string): Link[] {
  const links: Link[] = [];
  for (const { line, text } of proseLines(readFileSync(join(ROOT, page), 'utf8'))) {
    // Inline code is not a link: `[x](y)` in backticks is shown, not followed.
    for (const match of text.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const href = match[1]!;
      if (/^[a-z][a-z+.-]*:/i.test(href)) continue;
      const hash = href.indexOf('#');
      const path = hash < 0 ? href : href.slice(0, hash);
      const file = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), decodeURI(path)));
      links.push({
        where: `${page}:${line}`,
        href,
        file,
        anchor: hash < 0 ? undefined : href.slice(hash + 1),
      });
    }
  }
  return links;
}

const LINKS = PAGES.flatMap(linksOf);

describe('docs links', () => {
  it('finds the links it checks (the pages link to each other and to headings)', () => {
    expect(LINKS.length).toBeGreaterThan(50);
    expect(LINKS.filter((link) => link.anchor !== undefined).length).toBeGreaterThan(20);
  });

  it('every relative link names a file of the repository', () => {
    const missing = LINKS.filter((link) => !existsSync(join(ROOT, link.file))).map(
      (link) => `${link.where}: ${link.href}`,
    );
    expect(missing).toEqual([]);
  });

  it("every link's anchor is a heading of the page it names", () => {
    const anchors = new Map<string, Set<string>>();
    const missing = LINKS.filter(
      (link) => link.anchor !== undefined && link.file.endsWith('.md') && existsSync(join(ROOT, link.file)),
    )
      .filter((link) => {
        const known = anchors.get(link.file) ?? anchorsOf(link.file);
        anchors.set(link.file, known);
        return !known.has(link.anchor!);
      })
      .map((link) => `${link.where}: ${link.href}`);
    expect(missing).toEqual([]);
  });

  it('makes the anchors GitHub makes', () => {
    // Headings of these pages whose anchors other pages link to, as GitHub renders them.
    const bridge = anchorsOf('docs/bridge.md');
    expect(bridge).toContain('resuming-fromhookfilemarkedpath-options-and-resumefrom');
    const benchmarks = anchorsOf('docs/benchmarks.md');
    expect(benchmarks).toContain('1-in-memory-pipeline--payloadss');
    expect(headingText('**Bold** and `code` and [a link](x.md) and _stress_')).toBe(
      'Bold and code and a link and stress',
    );
  });
});
