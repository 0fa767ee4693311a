// Passkey ceremonies: the server's JSON options in, the credential's JSON out.

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "===".slice((base64.length + 3) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return bytes.buffer;
}

function toBase64Url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function withIds(list) {
  return (list || []).map((item) => ({ ...item, id: fromBase64Url(item.id) }));
}

function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64Url(json.challenge),
    user: { ...json.user, id: fromBase64Url(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64Url(json.challenge),
    allowCredentials: withIds(json.allowCredentials),
  };
}

function credentialJson(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = {};
  for (const name of ["clientDataJSON", "attestationObject", "authenticatorData", "signature"]) {
    if (credential.response[name]) response[name] = toBase64Url(credential.response[name]);
  }
  if (credential.response.userHandle) {
    response.userHandle = toBase64Url(credential.response.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

export function passkeysSupported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials);
}

// The browser's own errors, said in words a person can act on.
function explained(error) {
  if (error && error.name === "NotAllowedError") {
    return new Error("The passkey request was cancelled or timed out. Try again.");
  }
  if (error && error.name === "SecurityError") {
    return new Error(
      `Passkeys for this Cairn do not work at ${location.host}: open the console at the address ` +
        "its operator configured (for a local Cairn, http://localhost:8000/).",
    );
  }
  if (error && error.name === "InvalidStateError") {
    return new Error("This device already holds a passkey for this account.");
  }
  return error;
}

/** Make a new passkey with the registration options from a `.../begin` route. */
export async function createPasskey(options) {
  try {
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    return credentialJson(credential);
  } catch (error) {
    throw explained(error);
  }
}

/** Sign the challenge of a login, step-up or plan approval with a passkey. */
export async function usePasskey(options) {
  try {
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return credentialJson(credential);
  } catch (error) {
    throw explained(error);
  }
}
