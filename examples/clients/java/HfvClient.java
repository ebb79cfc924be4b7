// A case system's client for the hfv broker, with the JDK only (17+):
// java.net.http over mutual TLS with a PKCS#12 keystore, Ed25519 from
// java.security. For each household in HOUSEHOLDS.json it registers the
// authorisation, verifies the household (synchronously for the first, with
// "async": true and polling the Location for the others), and checks the
// report's signature offline with the key from GET /v1/keys/report-signing
// (docs/integration.md). The JDK has no JSON library: a small parser and the
// RFC 8785 canonical form for what reports hold (objects, arrays, strings,
// integers, booleans, null) are below.
//
// Usage: java HfvClient --url https://host:port --keystore client.p12
//   --truststore truststore.p12 --password PASS --operator OPERATOR
//   --households households.json [--reference-date YYYY-MM-DD] [--out DIR]
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public final class HfvClient {
  static final byte[] DOMAIN_PREFIX = "hfv-report/v1\n".getBytes(StandardCharsets.US_ASCII);

  // ---- JSON: a strict parser (no duplicate members) ----
  static final class Parser {
    private final String s;
    private int i;
    Parser(String text) { s = text; }
    static Object parse(String text) {
      Parser p = new Parser(text);
      Object v = p.value();
      p.ws();
      if (p.i != p.s.length()) throw new IllegalArgumentException("trailing text");
      return v;
    }
    private void ws() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; }
    private Object value() {
      ws();
      char c = s.charAt(i);
      if (c == '{') return object();
      if (c == '[') return array();
      if (c == '"') return string();
      if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
      if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
      if (s.startsWith("null", i)) { i += 4; return null; }
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
      String n = s.substring(start, i);
      if (!n.matches("-?(0|[1-9][0-9]*)")) {
        // Reports hold integers only; a fraction would need ECMAScript's number form.
        throw new IllegalArgumentException("not an integer: " + n);
      }
      return Long.parseLong(n);
    }
    private Map<String, Object> object() {
      Map<String, Object> m = new LinkedHashMap<>();
      i++;
      ws();
      if (s.charAt(i) == '}') { i++; return m; }
      while (true) {
        ws();
        String k = string();
        ws();
        if (s.charAt(i++) != ':') throw new IllegalArgumentException("':' expected");
        if (m.containsKey(k)) throw new IllegalArgumentException("member named twice: " + k);
        m.put(k, value());
        ws();
        char c = s.charAt(i++);
        if (c == '}') return m;
        if (c != ',') throw new IllegalArgumentException("',' expected");
      }
    }
    private List<Object> array() {
      List<Object> a = new ArrayList<>();
      i++;
      ws();
      if (s.charAt(i) == ']') { i++; return a; }
      while (true) {
        a.add(value());
        ws();
        char c = s.charAt(i++);
        if (c == ']') return a;
        if (c != ',') throw new IllegalArgumentException("',' expected");
      }
    }
    private String string() {
      if (s.charAt(i++) != '"') throw new IllegalArgumentException("string expected");
      StringBuilder b = new StringBuilder();
      while (true) {
        char c = s.charAt(i++);
        if (c == '"') return b.toString();
        if (c != '\\') { b.append(c); continue; }
        char e = s.charAt(i++);
        switch (e) {
          case 'b': b.append('\b'); break;
          case 't': b.append('\t'); break;
          case 'n': b.append('\n'); break;
          case 'f': b.append('\f'); break;
          case 'r': b.append('\r'); break;
          case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
          default: b.append(e);  // " \ /
        }
      }
    }
  }

  // ---- RFC 8785 canonical form ----
  static String jcs(Object v) {
    StringBuilder b = new StringBuilder();
    jcs(v, b);
    return b.toString();
  }
  @SuppressWarnings("unchecked")
  private static void jcs(Object v, StringBuilder b) {
    if (v == null) b.append("null");
    else if (v instanceof Boolean || v instanceof Long) b.append(v);
    else if (v instanceof String) jcsString((String) v, b);
    else if (v instanceof List) {
      b.append('[');
      boolean first = true;
      for (Object x : (List<Object>) v) { if (!first) b.append(','); first = false; jcs(x, b); }
      b.append(']');
    } else {
      // Members sorted by their names' UTF-16 code units: String's natural order.
      b.append('{');
      boolean first = true;
      for (Map.Entry<String, Object> e : new TreeMap<>((Map<String, Object>) v).entrySet()) {
        if (!first) b.append(',');
        first = false;
        jcsString(e.getKey(), b);
        b.append(':');
        jcs(e.getValue(), b);
      }
      b.append('}');
    }
  }
  private static void jcsString(String s, StringBuilder b) {
    b.append('"');
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\b': b.append("\\b"); break;
        case '\t': b.append("\\t"); break;
        case '\n': b.append("\\n"); break;
        case '\f': b.append("\\f"); break;
        case '\r': b.append("\\r"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    b.append('"');
  }

  // ---- the offline check ----
  @SuppressWarnings("unchecked")
  static boolean verifyReport(byte[] received, PublicKey key) throws Exception {
    Map<String, Object> report;
    try {
      report = (Map<String, Object>) Parser.parse(new String(received, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {  // not JSON, a member named twice, a fraction, not an object
      return false;
    }
    // Kept as received: a re-serialised or re-spaced text is refused.
    if (!jcs(report).equals(new String(received, StandardCharsets.UTF_8))) return false;
    Map<String, Object> sig = new LinkedHashMap<>((Map<String, Object>) report.get("signature"));
    if (!"Ed25519".equals(sig.get("alg")) || !"hfv-report/v1".equals(sig.get("format"))) return false;
    byte[] value;
    try {
      value = HexFormat.of().parseHex((String) sig.remove("value"));
    } catch (RuntimeException e) {  // absent, not a string, not hex
      return false;
    }
    Map<String, Object> signed = new LinkedHashMap<>(report);
    signed.put("signature", sig);
    byte[] body = jcs(signed).getBytes(StandardCharsets.UTF_8);
    Signature verifier = Signature.getInstance("Ed25519");
    verifier.initVerify(key);
    verifier.update(DOMAIN_PREFIX);
    verifier.update(body);
    return verifier.verify(value);
  }

  static PublicKey publicKeyFromPem(String pem) throws Exception {
    String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(b64)));
  }

  // ---- HTTP over mutual TLS ----
  final HttpClient http;
  final String base;
  final String operator;

  HfvClient(String url, Path keystore, Path truststore, char[] password, String operatorId) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) { ks.load(in, password); }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, password);
    KeyStore ts = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(truststore)) { ts.load(in, password); }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(10)).build();
    base = url;
    operator = operatorId;
  }

  /** Sends a request; repeats it after Retry-After on 429 and 503 (a verification carries an Idempotency-Key). */
  HttpResponse<byte[]> send(String method, String path, Object body, Map<String, String> headers) throws Exception {
    for (int attempt = 0; ; attempt++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
          .header("X-Operator-Id", operator).header("Accept", "application/json");
      headers.forEach(b::header);
      if (body == null) {
        b.method(method, HttpRequest.BodyPublishers.noBody());
      } else {
        b.header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofString(jcs(body), StandardCharsets.UTF_8));
      }
      HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      if ((r.statusCode() == 429 || r.statusCode() == 503) && attempt < 4) {
        Thread.sleep(1000L * Long.parseLong(r.headers().firstValue("Retry-After").orElse("1")));
        continue;
      }
      return r;
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> json(HttpResponse<byte[]> r) {
    return (Map<String, Object>) Parser.parse(new String(r.body(), StandardCharsets.UTF_8));
  }

  static RuntimeException failure(String what, HttpResponse<byte[]> r) {
    String detail = new String(r.body(), StandardCharsets.UTF_8);
    try {
      Map<String, Object> e = json(r);
      detail = e.get("error") + ": " + e.get("message") + (e.containsKey("field") ? " (field " + e.get("field") + ")" : "");
    } catch (RuntimeException ignored) {
      // not JSON: keep the text
    }
    return new IllegalStateException(what + ": HTTP " + r.statusCode() + " " + detail);
  }

  @SuppressWarnings("unchecked")
  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>(Map.of("reference-date", "2024-11-01"));
    for (int k = 0; k + 1 < argv.length; k += 2) a.put(argv[k].replaceFirst("^--", ""), argv[k + 1]);
    char[] password = a.get("password").toCharArray();
    HfvClient c = new HfvClient(a.get("url"), Path.of(a.get("keystore")), Path.of(a.get("truststore")), password,
                                a.get("operator"));
    List<Object> households = (List<Object>) Parser.parse(Files.readString(Path.of(a.get("households"))));

    HttpResponse<byte[]> keyAnswer = c.send("GET", "/v1/keys/report-signing", null, Map.of());
    if (keyAnswer.statusCode() != 200) throw failure("fetch the report-signing key", keyAnswer);
    Map<String, Object> key = json(keyAnswer);
    PublicKey publicKey = publicKeyFromPem((String) key.get("public_key_pem"));

    int failures = 0;
    for (int n = 0; n < households.size(); n++) {
      Map<String, Object> h = (Map<String, Object>) households.get(n);
      List<Object> ids = new ArrayList<>();
      for (Object m : (List<Object>) h.get("members")) ids.add(((Map<String, Object>) m).get("id_number"));
      Map<String, Object> auth = new LinkedHashMap<>();
      auth.put("case_id", h.get("case_id"));
      auth.put("jurisdiction", h.get("jurisdiction"));
      auth.put("members", ids);
      auth.put("categories", "all");
      auth.put("valid_from", "2024-01-01");
      auth.put("valid_until", "2027-12-31");
      auth.put("form_sha256", h.get("form_sha256"));
      HttpResponse<byte[]> registered = c.send("POST", "/v1/authorizations", auth, Map.of());
      if (registered.statusCode() != 201) throw failure("register the authorisation", registered);

      boolean async = n > 0;
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("case_id", h.get("case_id"));
      body.put("programme", "dibao");
      body.put("jurisdiction", h.get("jurisdiction"));
      body.put("area", "urban");
      body.put("reference_date", a.get("reference-date"));
      body.put("authorization_id", json(registered).get("authorization_id"));
      body.put("members", h.get("members"));
      body.put("obligors", List.of());
      if (async) body.put("async", Boolean.TRUE);
      String idempotencyKey = "sample-java-" + h.get("case_id") + "-" + a.get("reference-date");
      HttpResponse<byte[]> r = c.send("POST", "/v1/verifications", body, Map.of("Idempotency-Key", idempotencyKey));
      int polls = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while (r.statusCode() == 202) {
        String location = r.headers().firstValue("Location").orElseThrow();
        Thread.sleep(Math.min(200L * (polls + 1), 2000L));  // back off
        polls++;
        if (System.nanoTime() > deadline) throw new IllegalStateException("verification still running after 120 s");
        r = c.send("GET", location, null, Map.of());
      }
      if (r.statusCode() != 200) throw failure("verify the household", r);
      byte[] received = r.body();
      if (a.containsKey("out")) Files.write(Path.of(a.get("out"), h.get("case_id") + ".json"), received);
      Map<String, Object> report = json(r);
      boolean ok = key.get("key_id").equals(((Map<String, Object>) report.get("signature")).get("key_id"))
          && verifyReport(received, publicKey);
      byte[] tampered = new String(received, StandardCharsets.UTF_8)
          .replaceFirst("\"outcome\":\"", "\"outcome\":\"X").getBytes(StandardCharsets.UTF_8);
      boolean tamperRefused = !verifyReport(tampered, publicKey);
      System.out.printf("%s: %s (%s), %s, polled %d times, signature %s, tampered copy %s%n", h.get("case_id"),
          report.get("outcome"), report.get("classification"), async ? "async" : "sync", polls,
          ok ? "verified" : "INVALID", tamperRefused ? "refused" : "ACCEPTED");
      if (!ok || !tamperRefused) failures++;
    }
    System.exit(failures == 0 ? 0 : 1);
  }
}
