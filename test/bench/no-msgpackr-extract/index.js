// msgpackr catches this and uses its JavaScript decoder.
throw new Error("msgpackr-extract is not installed (see package.json)");
