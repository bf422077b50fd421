declare module 'js-hcl-parser' {
  /** GopherJS build of hashicorp/hcl v1: returns JSON text on success, or the error text. */
  const HCL: { parse(input: string): string; stringify(json: string): string };
  export default HCL;
}
