/**
 * Tests for `mod/devices/clipboard.ts`: which session clipboards carry
 * images, and the image bound shared with the protocol.
 *
 * @module
 */
import {
  carriesImages,
  MAX_CLIPBOARD_IMAGE,
  type SessionClipboard,
} from "../../mod/devices/clipboard.ts";
import { X11Clipboard } from "../../mod/devices/linux/x11_clipboard.ts";
import { MAX_CLIPBOARD_IMAGE as PROTOCOL_MAX } from "../../httpdocs/session/protocol.js";
import { assertEquals } from "../support/assert.ts";

/** A clipboard that takes text only (as the Windows one does today). */
const textOnly: SessionClipboard = {
  write: () => Promise.resolve(),
  readChange: () => Promise.resolve(undefined),
  read: () => Promise.resolve(undefined),
  close: () => {},
};

Deno.test("carriesImages: only clipboards with writeImage and readContentChange", () => {
  assertEquals(carriesImages(textOnly), false);
  assertEquals(
    carriesImages(
      { ...textOnly, writeImage: () => Promise.resolve() } as SessionClipboard,
    ),
    false,
  );
  const x11 = new X11Clipboard();
  assertEquals(carriesImages(x11), true);
  x11.close();
});

Deno.test("the image bound is the protocol's", () => {
  assertEquals(MAX_CLIPBOARD_IMAGE, PROTOCOL_MAX);
});
