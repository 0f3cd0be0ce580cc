import * as z from "zod";

/**
 * `schema.safeParse(input)` that never throws: zod re-throws what an input's getter or Proxy trap throws, so
 * such an input becomes one `invalid_input` issue instead of a thrown error escaping a validated function.
 */
export function safeParseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
): z.ZodSafeParseResult<z.output<S>> {
  try {
    return schema.safeParse(input) as z.ZodSafeParseResult<z.output<S>>;
  } catch {
    return {
      success: false,
      error: new z.ZodError([
        { code: "custom", path: [], message: "the input could not be read", input: undefined },
      ]) as z.ZodError<z.output<S>>,
    };
  }
}
