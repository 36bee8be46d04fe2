/** Types for the `macaroon` package (go-macaroon/js-macaroon), which ships none. */
declare module 'macaroon' {
  export interface Caveat {
    identifier: Uint8Array;
    location?: string;
    vid?: Uint8Array;
  }
  export interface Macaroon {
    readonly identifier: Uint8Array;
    readonly location: string;
    readonly signature: Uint8Array;
    readonly caveats: Caveat[];
    addFirstPartyCaveat(caveatId: Uint8Array | string): void;
    exportBinary(): Uint8Array;
    clone(): Macaroon;
    /** Throws when the signature chain or a caveat check fails. */
    verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
  }
  export function newMacaroon(params: {
    identifier: Uint8Array | string;
    location?: string;
    rootKey: Uint8Array | string;
    version?: 1 | 2;
  }): Macaroon;
  export function importMacaroon(obj: Uint8Array | string | object): Macaroon;
  export function importMacaroons(obj: Uint8Array | string | object): Macaroon[];
  export function bytesToBase64(bytes: Uint8Array): string;
  export function base64ToBytes(text: string): Uint8Array;
}
