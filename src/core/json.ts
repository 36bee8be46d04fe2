/**
 * JSON with exact integers: bigint values (millisatoshis can pass 2^53) are written as plain JSON
 * numbers with every digit, instead of being rounded or throwing as JSON.stringify does.
 */
export function toJson(value: unknown, indent = 2): string {
  const marks: string[] = [];
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      marks.push(v.toString());
      return `\u0000bigint${marks.length - 1}\u0000`;
    },
    indent,
  );
  return text.replace(/"\\u0000bigint(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}
