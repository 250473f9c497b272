/* Secret detectors: provider tokens, cloud credentials, keys, passwords in code,
 * config, URLs, .netrc and prose; the placeholder policy. Values are fakes. */
#include "router_test_util.h"

static void providers(void **s) {
  (void)s;
  EXPECT("token: ghp_16C7e42F292c69C2E7C10c838347Ae178B4aQq", "API_KEY", "ghp_16C7e42F292c69C2E7C10c838347Ae178B4aQq");
  /* a vendor's prefix after an underscore: the key named by what holds it */
  EXPECT("x_ghp_16C7e42F292c69C2E7C10c838347Ae178B4aQq", "API_KEY", "ghp_16C7e42F292c69C2E7C10c838347Ae178B4aQq");
  EXPECT("token_sk-proj-AbCdEf1234567890AbCdEf1234567890AbCd", "API_KEY",
         "sk-proj-AbCdEf1234567890AbCdEf1234567890AbCd");
  EXPECT("call_AKIAQ3EGT4HWVXYZ1234", "CLOUD_CREDENTIAL", "AKIAQ3EGT4HWVXYZ1234");
  REJECT("MY_TASK_sk-not-a-key and bucket_AKIAlike text", "API_KEY");
  /* a plain body whose checksum holds is a token GitHub could have issued */
  EXPECT("# Classic\nghp_00000000000000000000000000000004WZ4EQ", "API_KEY",
         "ghp_00000000000000000000000000000004WZ4EQ");
  REJECT("ghp_00000000000000000000000000000004WZ4EX", "API_KEY");
  EXPECT("--build-arg GO_REPO_TOKEN=glpat-tFrjFXD7soVU2fqxuDMh", "API_KEY", "glpat-tFrjFXD7soVU2fqxuDMh");
  EXPECT("slack xoxb-2631357135-4629301238-Zq8vL2mN9xR4tY7wK3pB6sD1", "API_KEY", "xoxb-2631357135-4629301238-Zq8vL2mN9xR4tY7wK3pB6sD1");
  EXPECT("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dcQ9", "API_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dcQ9");
  EXPECT("Bearer sk-mxIt5s1tyfCJyIKHwrqOT4BlbkFJT3VVmv6VdSwB7XXIq1TO\"", "API_KEY", "sk-mxIt5s1tyfCJyIKHwrqOT4BlbkFJT3VVmv6VdSwB7XXIq1TO");
  EXPECT("ANTHROPIC_API_KEY=sk-ant-api03-Zq8vL2mN9xR4tY7wK3pB6sD1fG5hJ0cE", "API_KEY", "sk-ant-api03-Zq8vL2mN9xR4tY7wK3pB6sD1fG5hJ0cE");
  EXPECT("key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&q=1", "API_KEY", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe");
  EXPECT("new BraintreeGateway(\"access_token$production$r7200s5ky4picw68$3c3d7220eee3a9341dc8e50cefec49b8\");",
         "API_KEY", "access_token$production$r7200s5ky4picw68$3c3d7220eee3a9341dc8e50cefec49b8");
  /* New Relic keys, NuGet API keys, a Postmark server token (a UUID under its name) */
  EXPECT("admin_access:NRAA-4780f48c47df5882dbec3fd82c7", "API_KEY", "NRAA-4780f48c47df5882dbec3fd82c7");
  EXPECT("dotnet nuget push x.nupkg --api-key oy2kq4hxhh3tpm6avdpbvwvbfyq7uq4ujkl2uxmsoyk2ha -s s",
         "API_KEY", "oy2kq4hxhh3tpm6avdpbvwvbfyq7uq4ujkl2uxmsoyk2ha");
  EXPECT("postmark: \"0b9a1c3e-5d2f-4e8a-9c71-2f6d8e4b3a10\"", "API_KEY", "0b9a1c3e-5d2f-4e8a-9c71-2f6d8e4b3a10");
  REJECT("the boy2 went home", "API_KEY");
  /* Django's generated key (its "%(" is no format field); a key under NAME_API */
  EXPECT("SECRET_KEY = 'django-insecure-_k3v!%(^+=pq@zu@v9-x7ulhb8s3!w&39w4+n3*k'", "API_KEY",
         "django-insecure-_k3v!%(^+=pq@zu@v9-x7ulhb8s3!w&39w4+n3*k");
  EXPECT("MAILCHIMP_API='5e2c8f0a7b9d41c3a6f28e0b1d7c9a43-us13'", "API_KEY", "5e2c8f0a7b9d41c3a6f28e0b1d7c9a43-us13");
  REJECT("use_api = True", "API_KEY");
  /* Akamai client tokens, Alibaba AccessKey IDs */
  EXPECT("client_token: akab-q7xk2m4n9p3r5t8v-w2y4a6c8e0g3j5l7", "API_KEY", "akab-q7xk2m4n9p3r5t8v-w2y4a6c8e0g3j5l7");
  EXPECT("AccessKeyId: LTAI5tQw8Zr3Lk9XyB2m", "API_KEY", "LTAI5tQw8Zr3Lk9XyB2m");
  /* Pulumi, Supabase, WakaTime, WunderGraph Cosmo, Grafana's legacy API keys */
  EXPECT("PULUMI_ACCESS_TOKEN pul-99d3bb1681bdf16db50cb1e64556eba3c4909d67", "API_KEY",
         "pul-99d3bb1681bdf16db50cb1e64556eba3c4909d67");
  EXPECT("sbp_7558c5a93d6f38dd038df5cc2a7c3d4d7b6bc76d", "API_KEY", "sbp_7558c5a93d6f38dd038df5cc2a7c3d4d7b6bc76d");
  EXPECT("api_key = waka_cb4f39ee-3bf3-44e1-c67a-6bcb3640cc97", "API_KEY", NULL);
  EXPECT("cosmo_69b9f425705c10e576aa6ade81d91e1a", "API_KEY", "cosmo_69b9f425705c10e576aa6ade81d91e1a");
  EXPECT("grafana = 'eyJrIjoiNjVjODc5ZjY2MDdlMmQ4ZjFmY2E1MGNmNDI1MzAyNjM0NGRmODY5OSIsIm4iOiJ0ZXN0IiwiaWQiOjg0ODc3MX0='",
         "API_KEY", NULL);
}

static void cloud(void **s) {
  (void)s;
  EXPECT("aws_access_key_id = AKIAZ7QWERTYUIOPASDF", "CLOUD_CREDENTIAL", "AKIAZ7QWERTYUIOPASDF");
  EXPECT("aws_secret_access_key = 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", "API_KEY", "Zq8vL2mN9xR4tY7wK3pB6sD1fG5hJ0cE1a2b3c4d");
  EXPECT("{\"type\": \"service_account\", \"project_id\": \"x\"}", "CLOUD_CREDENTIAL", NULL);
  EXPECT("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zq8vL2mN9xR4tY7wK3pB6sD1fG5hJ0cE1a2b3c4d5e6f==;",
         "CLOUD_CREDENTIAL", "Zq8vL2mN9xR4tY7wK3pB6sD1fG5hJ0cE1a2b3c4d5e6f==");
  /* documented example values: reported, same level, named as such */
  assert_int_equal(level_of("AKIAIOSFODNN7EXAMPLE"), SL_LEVEL_RESTRICTED);
}

static void keys_and_tokens(void **s) {
  (void)s;
  /* a stand-in's word inside a value that is random beside it; a Kubernetes
   * bootstrap token after a token's name (kubeadm's documented one too) */
  EXPECT("aws_secret_access_key = FakeValues99cl9bqJFVA3iFUm+yqVe08HxhXFE/", "API_KEY",
         "FakeValues99cl9bqJFVA3iFUm+yqVe08HxhXFE/");
  EXPECT("kubeadm join 10.0.0.1:6443 --token 7g8k2q.x9c4m1v0z3p5n6b8 --discovery-token-ca-cert-hash sha256:1a2b",
         "API_KEY", "7g8k2q.x9c4m1v0z3p5n6b8");
  EXPECT("--tls-bootstrap-token abcdef.1234567890abcdef", "API_KEY", "abcdef.1234567890abcdef");
  EXPECT("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n", "PRIVATE_KEY",
         "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----");
  EXPECT("PRIVATE_KEY_B64=LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlF", "PRIVATE_KEY", NULL);
  EXPECT("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
         "JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U");
  EXPECT("api_key = 'a8f5f167f44f4964e6c998dee827110c'", "API_KEY", "a8f5f167f44f4964e6c998dee827110c");
  EXPECT("  HEROKU_API_KEY: c55dbac4-e0e8-4a06-b892-75cac2387ce5", "API_KEY", "c55dbac4-e0e8-4a06-b892-75cac2387ce5");
  EXPECT("\"client_secret\":\"aaaaaaaaaaaaaaaaaaaaaaa-\"", "API_KEY", "aaaaaaaaaaaaaaaaaaaaaaa-");
  /* a fake key's fill, bare, after a secret-named key: still a literal */
  EXPECT("aws_secret_access_key:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "API_KEY",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT("okta_api_token = 00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "API_KEY",
         "00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  REJECT("api_token = some_variable_name_here", "API_KEY");
  REJECT("secret_key = settings.SECRET_KEY_VALUE", "API_KEY");
  REJECT("SECRET_KEY=get_random_secret_key()", "API_KEY");
  REJECT("access_token = xxxxxxxxxxxxxxxxxxxxxxxxxxxx", "API_KEY");
  /* unknown prefix, no key name: only a long, mixed, random token */
  EXPECT("use 00DE0X0A0M0PeLE!CJoAQOx1GCLf1UIt4UU9y0VOPLUZAYN6I8DsdGEDyHh5 here", "API_KEY", NULL);
  EXPECT("post to https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf now",
         "API_KEY", "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf");
  REJECT("see https://docs.github.com/en/webhooks/about-webhooks for details", "API_KEY");
  /* a device's access token in a telemetry API's path (ThingsBoard) */
  EXPECT("http://thingsboard.cloud/api/v1/354u1g321kcqc1oad3w7/telemetry", "API_KEY",
         "http://thingsboard.cloud/api/v1/354u1g321kcqc1oad3w7/telemetry");
  REJECT("POST https://example.com/api/v1/devices/telemetry with a JSON body", "API_KEY");
  REJECT("call get_user_profile_by_identifier_and_timestamp()", "API_KEY");
  REJECT("commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it", "API_KEY");
  /* a two-word key name in prose, and "is" before a random value */
  EXPECT("heroku api key: 3f9a1c72-8e4b-4d0a-b6f1-9c2e7d5a8b14", "API_KEY", "3f9a1c72-8e4b-4d0a-b6f1-9c2e7d5a8b14");
  EXPECT("the access token is q8XzP2vL9mK4rT7wN1bC6y thanks", "API_KEY", "q8XzP2vL9mK4rT7wN1bC6y");
  REJECT("the token is valid until Friday", "API_KEY");
  REJECT("the api key is in the vault", "API_KEY");
  REJECT("request id 3f9a1c72-8e4b-4d0a-b6f1-9c2e7d5a8b14 failed", "API_KEY");
  /* a random value with '>' in it is no template slot; a PAT's and Sonar's names */
  EXPECT("jwtsecret: \"7`D}/vYR)T;W5]EBrf;_&k>qX??]G&3CF=;@vyrVBp\"", "API_KEY", NULL);
  EXPECT("ado_pat = \"iyfmob6xjrfmit67anxbot64umfx2clwx7dz5ynxi4q2z3uqegvq\"", "API_KEY",
         "iyfmob6xjrfmit67anxbot64umfx2clwx7dz5ynxi4q2z3uqegvq");
  EXPECT("$sonarLogin = \"4924be8f51f3e738c97db2c4ace51db7e938f28b\"", "API_KEY",
         "4924be8f51f3e738c97db2c4ace51db7e938f28b");
  REJECT("file_path = \"/srv/app/data\"", "API_KEY");
  /* a method's name after a vendor prefix; a sequence, not a key */
  REJECT("dapiDataGetTopLongShortPositionRatio (params?: {}): Promise<implicitReturnType>;", "API_KEY");
  REJECT("--set global.licenseKey=a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8NRAL", "API_KEY");
  /* a PEM body cut with "..." or of a few bytes is a placeholder; a stub of a
   * key's first line is still reported */
  REJECT("let k = \"-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA1234567890abcdef...\\n"
         "-----END RSA PRIVATE KEY-----\";", "PRIVATE_KEY");
  REJECT("-----BEGIN RSA PRIVATE KEY-----\nMIIEtest==\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY");
  EXPECT("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
         "PRIVATE_KEY", NULL);
  /* a private key's DER in base64 without its PEM lines (not a public key's);
   * base64 of a JSON credentials file (a Docker config) */
  EXPECT("MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjW",
         "PRIVATE_KEY", NULL);
  EXPECT("MHcCAQEEIBYcmBw6D3jGwK2CNlS6RfbQ2ZEy0dDrrP9yKNDwGBqfoAoGCCqGSM49AwEHoUQDQgAE", "PRIVATE_KEY", NULL);
  REJECT("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw",
         "PRIVATE_KEY");
  EXPECT("  .dockercfg: |\n    eyJhdXRocyI6eyJodHRwczovL2V4YW1wbGUvdjEvIjp7ImF1dGgiOiJvcGVuc2VzYW1lIn19fQo=",
         "API_KEY", "eyJhdXRocyI6eyJodHRwczovL2V4YW1wbGUvdjEvIjp7ImF1dGgiOiJvcGVuc2VzYW1lIn19fQo=");
  /* stand-ins: a phrase that describes the key wanted, a value cut with an
   * ellipsis, a JWT with a plain word for a part, a URL's user:mypassword; a
   * key with a random part in snake case stays one */
  REJECT("JWT_SECRET=a-long-random-string-at-least-32-chars", "API_KEY");
  REJECT("STRIPE_SECRET_KEY=sk_live_51...\nSTRIPE_WEBHOOK_SECRET=whsec_...", "API_KEY");
  REJECT("curl -H \"Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.payload.sig\"", "API_KEY");
  REJECT("url = \"https://username:mypassword@test.com/endpoint\"", "PASSWORD");
  EXPECT("STRIPE_PUBLISHABLE_KEY=pk_live_YV48MHHj9HnpLrh90htHIFdu", "API_KEY", NULL);
  EXPECT("token: dp.ct.bAqhcVzrhy5cRHkOlNTc0Ve6w5NUDCpcutm8vGE9myi", "API_KEY", NULL);
  /* any key after an Authorization header's scheme */
  EXPECT("curl -H \"Authorization: Api-Token 22cb987851bc5659l29114c62e60c79abd0d2c08\" https://x.io/a",
         "API_KEY", "22cb987851bc5659l29114c62e60c79abd0d2c08");
  /* a key's name run into its value still says it is one; an access key's id is one */
  EXPECT("STRIPE_WEBHOOK_SIGNING=26ce3dc9e180a801b89282634e5aaa5ae32a1ca9\nPORT=3000", "API_KEY", NULL);
  EXPECT("access_key_id = NM2A45N9LODPYX2ARKA1", "API_KEY", "NM2A45N9LODPYX2ARKA1");
}

/* One-time-password seeds and recovery codes after their names. */
static void login_lines(void **s) {
  (void)s;
  /* a pair after the word credential */
  EXPECT("recovered the database credential db_admin / Qx7!mPz2#Lw9 from a backup", "PASSWORD", "Qx7!mPz2#Lw9");
  REJECT("the credential store is locked", "PASSWORD");
  /* a password of digits said in prose, ending its clause */
  EXPECT("remember my password is 12345", "PASSWORD", "12345");
  REJECT("the password is 2024 compliant", "PASSWORD");
  REJECT("the password is 8 characters long", "PASSWORD");
  /* a plain word is a password below a user name's line; a schema's words are not */
  EXPECT("username: root\npassword: root", "PASSWORD", "root");
  EXPECT("username root\npassword crickets", "PASSWORD", "crickets");
  REJECT("username: String\npassword: String", "PASSWORD");
  REJECT("user: alice\npassword: required", "PASSWORD");
  REJECT("user: String,\npassword_file: PathBuf", "PASSWORD");
}

static void otp_secrets(void **s) {
  (void)s;
  EXPECT("TOTP seed (shared on-call phone): KRUGS4ZANFZSAYJAONSWGZLU", "API_KEY",
         "KRUGS4ZANFZSAYJAONSWGZLU");
  EXPECT("BitLocker recovery key: 120418-330825-601447-702515-411862-093368-552948-171292",
         "API_KEY", "120418-330825-601447-702515-411862-093368-552948-171292");
  EXPECT("backup codes are 7hq2-94kd and 1m8z-53vr", "API_KEY", "7hq2-94kd");
  REJECT("Where is the BitLocker recovery key stored in Active Directory?", "API_KEY");
  REJECT("A TOTP seed is usually 16 or 32 base32 characters.", "API_KEY");
  REJECT("Rotate the recovery codes for 2023-2024 before the audit.", "API_KEY");
}

static void passwords(void **s) {
  (void)s;
  /* a template's end after the name inside it is no value */
  REJECT("primary: postgres://app:{{ vault \"secret/data/db#password\" }}@pg-primary:5432/app", "PASSWORD");
  EXPECT("password = \"}hunter2{\"", "PASSWORD", "}hunter2{");
  /* a ULID after an object's prefix is an identifier */
  REJECT("{\"data\": {\"id\": \"ord_01HZX4K8Q2M7T9V3B5N6C1D0E2\", \"status\": \"fulfilled\"}}", "API_KEY");
  /* Go struct tags name the field's keys, they hold no value */
  REJECT("type Config struct {\n    DBPassword string `env:\"DB_PASSWORD\"`\n}", "PASSWORD");
  REJECT("type User struct {\n    Password string `json:\"password,omitempty\" db:\"pw\"`\n}", "PASSWORD");
  EXPECT("const dbPassword = `S3cr3t!pw` // prod", "PASSWORD", "S3cr3t!pw");
  /* a line end escaped at a literal's end (the fold step decodes \n); a quote
   * escaped inside one */
  EXPECT("conn = connect(user='app', password='Xk9#mP2$vL\\n')", "PASSWORD", "Xk9#mP2$vL");
  EXPECT("secret = 'mYs3cr3tV4lu3!\\r\\n'", "API_KEY", "mYs3cr3tV4lu3!");
  EXPECT("the password is \"hun\\\"ter2\"", "PASSWORD", NULL);
  EXPECT("DB_PASSWORD=hunter22", "PASSWORD", "hunter22");
  /* a generated password alone on the line after its cue line */
  EXPECT("An admin user has been created.\nPlease use the following password to proceed:\n\nX7kq2Lm9Pw4z\n\nThen log in.",
         "PASSWORD", "X7kq2Lm9Pw4z");
  REJECT("Choose a password:\n\nit must have 8 characters\n", "PASSWORD");
  REJECT("Password:\n\nsee the vault entry below\n", "PASSWORD");
  /* hashes as cracking tools write them */
  EXPECT("roasted: $krb5asrep$23$user@CORP.LOCAL:8cf8eb5287e28a4006c064892150c4fb$3e05ecc13548bec8e1eeb900dea5429c",
         "PASSWORD", NULL);
  EXPECT("$krb5tgs$23$*svc_sql$CORP.LOCAL$MSSQLSvc/db01*$9a1c3e5f7b2d4a6c8e0f1a3b5c7d9e2f$0d1e2f3a4b5c6d7e8f9a",
         "PASSWORD", NULL);
  /* a shell or env line in lower case: '=' with no space makes the word a literal */
  EXPECT("password=sunshine", "PASSWORD", "sunshine");
  EXPECT("host=db1\nexport db_pass=bluewhale", "PASSWORD", "bluewhale");
  REJECT("connect(user=u, password=pw)", "PASSWORD");
  /* English words run together, ending the sentence, are a passphrase */
  EXPECT("my password is correcthorsebatterystaple.", "PASSWORD", "correcthorsebatterystaple");
  EXPECT("my password is ilovemydog", "PASSWORD", "ilovemydog");
  REJECT("my password is unbelievable", "PASSWORD");
  REJECT("my password is incorrectly set", "PASSWORD");
  /* letters only but random, no identifier: a value, not a reference */
  EXPECT("user=svc-backup password=QplTrxWmvBkazNd", "PASSWORD", "QplTrxWmvBkazNd");
  REJECT("password=getUserPassword", "PASSWORD");
  REJECT("password=mysqlPasswd", "PASSWORD");
  /* a PIN said in prose, a pin of a board is none */
  EXPECT("the garage door PIN is 7302.", "PASSWORD", "7302");
  REJECT("wire the sensor to pin 12 of the header", "PASSWORD");
  /* MySQL's native password hash */
  EXPECT("| svc | *6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4 |", "PASSWORD",
         "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4");
  REJECT("* 6c8989366eaf75bb670ad8ea7a7fc1176a95cef4 is the commit", "PASSWORD");
  EXPECT("spring.datasource.password: \"s3cr3t-Pa55\"", "PASSWORD", "s3cr3t-Pa55");
  EXPECT("mongodb+srv://servicelogin:CPCdZH5k0F6dxQ9V@example.mongodb.net/db", "PASSWORD", "CPCdZH5k0F6dxQ9V");
  EXPECT("machine api.github.com login bob password hunter22", "PASSWORD", "hunter22");
  EXPECT("my password is Tr0ub4dor&3 so please", "PASSWORD", "Tr0ub4dor&3");
  EXPECT("her login password Start@2025.", "PASSWORD", "Start@2025");
  EXPECT("new NetworkCredential(\"bob@example.com\", \"vzihlaquknriqlht\");", "PASSWORD", "vzihlaquknriqlht");
  EXPECT("$6$rounds=5000$GX7BopJZJxPc/KEK$le16UF8I2Anb.rOrn22AUPWvzUETDGefUmAV8AZkGcD", "PASSWORD", NULL);
  EXPECT("Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "PASSWORD", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT("credentials {\n  username 'user'\n  password 'password'\n}", "PASSWORD", "password");
  EXPECT("he shared his login: tbecker / Winter2024! with the vendor", "PASSWORD", "Winter2024!");
  EXPECT("fyi staging login is admin / Kv8#pLq2!wZr until SSO", "PASSWORD", "Kv8#pLq2!wZr");
  EXPECT("-b 'redis://:S2md92K4K9CtOPYBEuRmcCDFw5p4WpBr@cache-prod.internal:6379/0'", "PASSWORD",
         "S2md92K4K9CtOPYBEuRmcCDFw5p4WpBr");
  /* the word in other languages, a quoted -p flag, Python bytes literals */
  EXPECT("[database]\nuser = compta\nmot_de_passe = Rh0ne!Lyon#2023\n", "PASSWORD", "Rh0ne!Lyon#2023");
  EXPECT("Passwort: Sommer2024!", "PASSWORD", "Sommer2024!");
  EXPECT("  514  mysql -u root -p'S3cr3t!Db2024' -h db01.internal", "PASSWORD", "S3cr3t!Db2024");
  EXPECT("app.secret_key = b'ec37371af8828d2a4a193742f2506ec50b12d81d98f5ddf3'", "API_KEY",
         "ec37371af8828d2a4a193742f2506ec50b12d81d98f5ddf3");
  /* a key name and its value as arguments, a line cut off inside the value,
   * Jenkins' crumb in a header */
  EXPECT("buildConfigField 'String' , 'API_KEY' , '\"951bc382db9cfee29c68634761dd6e19\"'\tAPI_KEY\t",
         "API_KEY", "\"951bc382db9cfee29c68634761dd6e19\"");
  EXPECT("sonar.login', '826de5590c75919a8317fdface58206eebe7ebbc", "API_KEY",
         "826de5590c75919a8317fdface58206eebe7ebbc");
  EXPECT("curl -X POST $URL -H 'Jenkins-Crumb:440561953171ba44ace9740562d172bb'", "API_KEY",
         "440561953171ba44ace9740562d172bb");
  /* command lines: curl -u, a password piped to --password-stdin, a hex token after a flag */
  EXPECT("$ curl -u 05322b0aff4127af35b0199db0bf57ad:845e2863f6944fc45c8f74412a9080a0 'https://x.io'",
         "PASSWORD", "845e2863f6944fc45c8f74412a9080a0");
  EXPECT("echo 'FppyT9MP;fd5Tb_lwxcg' | docker login fra.ocir.io -u 'ci' --password-stdin", "PASSWORD",
         "FppyT9MP;fd5Tb_lwxcg");
  EXPECT("$ tea login add --url https://git.lab.lan --token d23338141b5e8fbd78d84c2cfff854acced15dc6",
         "API_KEY", "d23338141b5e8fbd78d84c2cfff854acced15dc6");
  /* keys given to API clients; a key in a URL's user part (Sentry DSN); an
   * Ethereum private key */
  EXPECT("client = LinodeClient(\"ebd397e387e3e3785b0e70260c4447b80c378a42f07643fb97ca05b74f9d6380\")",
         "API_KEY", "ebd397e387e3e3785b0e70260c4447b80c378a42f07643fb97ca05b74f9d6380");
  EXPECT("const client = algoliasearch('O41ALRK1CO', '4b061f44207d3dcb941ed76877fb28b3');", "API_KEY",
         "4b061f44207d3dcb941ed76877fb28b3");
  EXPECT("var client = new PostmarkClient(\"f9747230-31d1-4343-a67f-4c6d03d911b8\");", "API_KEY",
         "f9747230-31d1-4343-a67f-4c6d03d911b8");
  EXPECT("dsn=\"https://7c5bdeec696202495163637ad410b428@o878167.ingest.sentry.io/5086240\"", "API_KEY",
         "7c5bdeec696202495163637ad410b428");
  EXPECT("  accounts: [\"0x65067e1242de3e04710b65723cb5dd721028f24cd1de36a31d620b67a639bb50\"],",
         "PRIVATE_KEY", "0x65067e1242de3e04710b65723cb5dd721028f24cd1de36a31d620b67a639bb50");
  /* a login call, a pair a few words after "login", an Authorization: Token header */
  EXPECT("server.login(\"alerts-bot\", \"SPKUoXFtroQmvYhCXikr\")", "PASSWORD", "SPKUoXFtroQmvYhCXikr");
  EXPECT("fyi the admin login for the office router is admin / copper-meadow-river-49 today", "PASSWORD",
         "copper-meadow-river-49");
  EXPECT("Authorization: Token 8ac8bde92f347a11b75b2ee6d05b8aa21ed89f23\r\n", "API_KEY",
         "8ac8bde92f347a11b75b2ee6d05b8aa21ed89f23");
  EXPECT("usa el usuario etl_user y la contraseña paprika-lantern-meadow-granite.", "PASSWORD",
         "paprika-lantern-meadow-granite");
  EXPECT("the mailbox password was reset this morning to eRUfMH213pGF4u - please", "PASSWORD",
         "eRUfMH213pGF4u");
  /* an adjective after the word ("clave nueva:"), SQL's IDENTIFIED BY */
  EXPECT("Usuario admin, clave nueva: Ij+17^&z7iVvR. Apuntadla en el gestor.", "PASSWORD",
         "Ij+17^&z7iVvR");
  EXPECT("ALTER USER 'reporting_ro'@'%' IDENTIFIED BY 'Nw7L-x+G=MZK601nj1';", "PASSWORD",
         "Nw7L-x+G=MZK601nj1");
  EXPECT("Yeni şifre: Qz83!mkT0p", "PASSWORD", "Qz83!mkT0p");
  /* XML elements; the value a few words after the word, behind a verb */
  EXPECT("<server>\n  <username>deploy-bot</username>\n  <password>vm80juod1iLVEurEIJ6k</password>\n</server>",
         "PASSWORD", "vm80juod1iLVEurEIJ6k");
  EXPECT("<apiKey>3f9aK2mQ8zL1xR7vT4nB6cD0eF</apiKey>", "API_KEY", "3f9aK2mQ8zL1xR7vT4nB6cD0eF");
  /* one plain word ending its clause after "password is" or "password:", unless
   * it says what the password is like */
  EXPECT("my password is bluebird", "PASSWORD", "bluebird");
  EXPECT("the wifi password is sunflower.", "PASSWORD", "sunflower");
  EXPECT("password: hunter2", "PASSWORD", "hunter2");
  REJECT("the password is incorrect", "PASSWORD");
  REJECT("Your password is expired.", "PASSWORD");
  REJECT("Password: required", "PASSWORD");
  REJECT("The password is case sensitive", "PASSWORD");
  REJECT("das Passwort ist falsch", "PASSWORD");
  /* the value before the word: one token that looks like a password */
  EXPECT("Hunter2Rocks! is my password", "PASSWORD", "Hunter2Rocks!");
  EXPECT("use Qx7!mPz2#Lw9 as the password for the portal", "PASSWORD", "Qx7!mPz2#Lw9");
  REJECT("Python3.12 is the password manager we use", "PASSWORD");
  /* a long hex value after a key's or a secret's name and a space */
  EXPECT("api secret 9f86d081884c7d659a2feaa0c55ad015", "API_KEY", "9f86d081884c7d659a2feaa0c55ad015");
  EXPECT("api key 3c59dc048e8850243be8079a5c74d079 for staging", "API_KEY", "3c59dc048e8850243be8079a5c74d079");
  REJECT("sha256 9f86d081884c7d659a2feaa0c55ad015 of the file", "API_KEY");
  /* attribute pairs (.NET appSettings, Spring beans) */
  EXPECT("<add key=\"SmtpPassword\" value=\"gQCAebqW8b!67\" />", "PASSWORD", "gQCAebqW8b!67");
  EXPECT("<property name=\"password\" value=\"s3cr3tPass\"/>", "PASSWORD", "s3cr3tPass");
  REJECT("<add key=\"SmtpPassword\" value=\"${SMTP_PASSWORD}\" />", "PASSWORD");
  REJECT("<add key=\"RequirePassword\" value=\"true\" />", "PASSWORD");
  EXPECT("das neue Passwort für den gemeinsamen Account lautet ab heute Wk8!feR_tanne42 – bitte",
         "PASSWORD", "Wk8!feR_tanne42");
  EXPECT("Het wachtwoord voor de wifi op kantoor Utrecht is nu Tulpenveld-2024!x — graag", "PASSWORD",
         "Tulpenveld-2024!x");
  EXPECT("a senha do servidor de homologação mudou: agora é Caju!7742sol. O usuário", "PASSWORD",
         "Caju!7742sol");
  /* the word in Japanese and Korean; PowerShell; a .pgpass line */
  EXPECT("新しいパスワードは「Kx9!mB2#qR7w」です。", "PASSWORD", "Kx9!mB2#qR7w");
  EXPECT("비밀번호: Qwe!2024zx", "PASSWORD", "Qwe!2024zx");
  EXPECT("$secpass = ConvertTo-SecureString \"W1nter!sComing42\" -AsPlainText -Force", "PASSWORD",
         "W1nter!sComing42");
  EXPECT("pg-analytics.internal:5432:warehouse:etl_loader:Xq2!vB7nM4pL\n", "PASSWORD", "Xq2!vB7nM4pL");
  EXPECT("~/.pgpass: db-prod.internal:5432:ledger:ledger_app:mN4$kq8Zt2 (mode 0600)", "PASSWORD", "mN4$kq8Zt2");
  /* the value a few words after the name, past words about it */
  EXPECT("the shared secret for the webhook is 6776abd4b010a5c129b74dbe19a22cc8", "API_KEY",
         "6776abd4b010a5c129b74dbe19a22cc8");
  EXPECT("The root password on the NAS is still the one she set: Kx9!mw2Pq", "PASSWORD", "Kx9!mw2Pq");
  REJECT("the token for this endpoint is documented in the wiki page", "API_KEY");
  REJECT("The password is still required for login: see the docs.", "PASSWORD");
  /* a user and a password as a call's literals; a bare -p; a key after a colon in prose */
  EXPECT("    auth=(\"svc_reporting\", \"hunter2-Prod!44\"),", "PASSWORD", "hunter2-Prod!44");
  EXPECT("$db = new PDO('mysql:host=db;dbname=shop', 'shop_admin', 'Tr0ub4dor&3x!Lemon');", "PASSWORD",
         "Tr0ub4dor&3x!Lemon");
  EXPECT("docker login -u release-bot -p Xk2vR9!mQw44 harbor.internal", "PASSWORD", "Xk2vR9!mQw44");
  EXPECT("voici la clé API de prod (à ne pas committer !) : 88f1e17e9492d61f1e69aa0ffee443bc9625872d", "API_KEY",
         "88f1e17e9492d61f1e69aa0ffee443bc9625872d");
  EXPECT("ti giro la master.key di Rails per lo staging: 358c99b9abed2d407f1698d21ce75d83 | mettila", "API_KEY",
         "358c99b9abed2d407f1698d21ce75d83");
  /* the value after a label word, a Chinese sentence, redis-cli -a; an '@' is no e-mail alone */
  EXPECT("Te paso la contraseña del wifi de la oficina nueva: Cafetera#Azul_2024 (red", "PASSWORD",
         "Cafetera#Azul_2024");
  EXPECT("测试库的数据库密码已经改成 Qw3rty!@#2024 了，账号还是 dev_rw", "PASSWORD", "Qw3rty!@#2024");
  /* the word in Arabic, Hindi, Hebrew, Turkish: the strong value a few words on */
  EXPECT("حساب المستخدم admin كلمة المرور الخاصة به Dubai#Marina55 يرجى تغييرها", "PASSWORD", "Dubai#Marina55");
  EXPECT("उसका पासवर्ड है Xk9#mPq2Lw", "PASSWORD", "Xk9#mPq2Lw");
  EXPECT("סיסמה: Gf7$kLp29q", "PASSWORD", "Gf7$kLp29q");
  EXPECT("Kullanıcı adı: mehmet, parola: Kedi!2024x", "PASSWORD", "Kedi!2024x");
  REJECT("ما هي كلمة المرور القوية؟ استخدم 12 حرفا", "PASSWORD");
  EXPECT("$ redis-cli -h cache-01.prod -p 6380 -a 'N3bul@Storm_77' --no-auth-warning INFO", "PASSWORD",
         "N3bul@Storm_77");
  EXPECT("port 6379\nrequirepass 7fK2qLx9Vb4TzR8w\nmaxmemory 2gb", "PASSWORD", "7fK2qLx9Vb4TzR8w");
  /* pwdump lines: the NT hash */
  EXPECT("svc_sql:1104:aad3b435b51404eeaad3b435b51404ee:5fe8c31736267e788f0547f67c5ff3de:::", "PASSWORD",
         "5fe8c31736267e788f0547f67c5ff3de");
  /* a Wi-Fi network's pre-shared key; a default pair in a URL is still one */
  EXPECT("network={\n    ssid=\"Lager\"\n    psk=\"Kettensaege!Blau7731\"\n}", "PASSWORD", "Kettensaege!Blau7731");
  EXPECT("mongodb://admin:admin@db.internal:27017", "PASSWORD", "admin");
  /* a bare word in a config file; a quoted word after "is" in prose */
  EXPECT("REACT_APP_AUTH_PASSWORD=whiteduke", "PASSWORD", "whiteduke");
  EXPECT("[db]\nuser = aladdin\npassword = open_sesame\n", "PASSWORD", "open_sesame");
  REJECT("password = user_input", "PASSWORD");
  REJECT("PASSWORD = password", "PASSWORD");
  /* a MySQL client's -p takes the password glued to it; prose in other languages */
  EXPECT("  512  mysql -u root -pW1nter-Lake-2024 -h db.staging.local shop < dump.sql", "PASSWORD",
         "W1nter-Lake-2024");
  REJECT("mysql -u root -p shop", "PASSWORD");
  REJECT("mysql -u root -p$MYSQL_PWD shop", "PASSWORD");
  REJECT("ls -pal /tmp", "PASSWORD");
  EXPECT("La password del gestionale è cambiata di nuovo: adesso è Gelato!Bosco29, l'utente resta",
         "PASSWORD", "Gelato!Bosco29");
  EXPECT("mon mot de passe pour le portail RH c'est Soleil#Rouge1987, tu peux", "PASSWORD",
         "Soleil#Rouge1987");
  REJECT("le mot de passe est changé de nouveau", "PASSWORD");
  REJECT("psql -c \"CREATE USER reporting WITH PASSWORD :'reporting_pw';\"", "PASSWORD");
  /* every value of a connection string is a literal; its templates are not */
  EXPECT("Server=db1;Database=sales;User Id=app;Password=hunter;", "PASSWORD", "hunter");
  EXPECT("Provider=SQLNCLI;Server=myServerName;Uid=myUsername;Pwd=myPassword;", "PASSWORD",
         "myPassword");
  REJECT("Server=db;User Id=sa;Password=${DB_PASS};", "PASSWORD");
  REJECT("Host=db;Password=%s;", "PASSWORD");
  REJECT("conn = \"Host=x;Username=app;Password=\" + password + \";\"", "PASSWORD");
  REJECT("uid=#{datastore['DBUID']};pwd=#{datastore['DBPASSWORD']}", "PASSWORD");
  EXPECT("The default password for the user \"app-user\" is \"tulip\".", "PASSWORD", "tulip");
  REJECT("the password field is 'required'", "PASSWORD");
  REJECT("let q = [kSecClass: kSecClassGenericPassword, kSecAttrAccount as String: \"session\"]", "PASSWORD");
  /* upper-case names ending in PASS, typed declarations, comparisons, XML with
   * attributes, JSON inside a string; three letters are a stand-in */
  EXPECT("MYSQLPASS: Ke7shQ0ENPvBlW_EdEose0", "PASSWORD", "Ke7shQ0ENPvBlW_EdEose0");
  EXPECT("val password: String = \"exord13Paw64\"", "PASSWORD", "exord13Paw64");
  EXPECT("def connect(passwd: str = \"cq2tPr1a2\"):", "PASSWORD", "cq2tPr1a2");
  EXPECT("if pwd != \"x6s7djtEa\":", "PASSWORD", "x6s7djtEa");
  EXPECT("<password name=\"db\">cackle!</password>", "PASSWORD", "cackle!");
  EXPECT("{\"a\": \"{\\\"db-password\\\":\\\"Axt4T0eO0lm9sS==\\\"}\"}", "PASSWORD", "Axt4T0eO0lm9sS==");
  REJECT("password = \"abc\"", "PASSWORD");
  REJECT("if (password != null) return;", "PASSWORD");
  REJECT("password: String", "PASSWORD");
  REJECT("the compass: north", "PASSWORD");
  /* a pair after an "id/pw" label; the word in Korean, shortened */
  EXPECT("id/pw master/IhqSb1Gg", "PASSWORD", "IhqSb1Gg");
  EXPECT("User/Password: db / db23#2", "PASSWORD", "db23#2");
  REJECT("the id/pw fields are required", "PASSWORD");
  EXPECT("비번:Prl23Db#@", "PASSWORD", "Prl23Db#@");
  /* a database connection's call; attribute names, types, variable names */
  EXPECT("DBI->connect(\"DBI:Pg:dbname=inv\", \"inv_report\", \"P3rl!nv-Rpt#55\", { RaiseError => 1 });",
         "PASSWORD", "P3rl!nv-Rpt#55");
  EXPECT("DriverManager.getConnection(URL, \"svc_billing\", \"Bq7$Lm2!wZ9xPt\")", "PASSWORD", "Bq7$Lm2!wZ9xPt");
  REJECT("ws.connect(\"wss://stream.example.com/v2\", \"Sub-Protocol1\")", "PASSWORD");
  REJECT("<input id=\"password\" name=\"password\" type=\"password\" minlength=\"12\" required>", "PASSWORD");
  /* a hint is said to help remember a password, it is none */
  REJECT("\"passphrase_hint\": \"name of the first street you lived on\"", "PASSWORD");
  REJECT("password_hint = \"favourite colour\"", "PASSWORD");
  REJECT("pub fn hash(password: &str) -> Result<String, Error> {", "PASSWORD");
  REJECT("usernamePassword(credentialsId: 'nexus-deployer', passwordVariable: 'NEXUS_PASS')", "PASSWORD");
  REJECT("CREATE ROLE app LOGIN PASSWORD :'app_password';", "PASSWORD");
  EXPECT("data:\n  password: dDFvKyVKQnNNa3BWbjFQMVo=", "PASSWORD", "dDFvKyVKQnNNa3BWbjFQMVo=");
  /* PHP's and Perl's $name = "..." sets the variable, also with the quotes escaped
   * inside a string; a bare value there is code */
  EXPECT("$password = \"goodspec\";", "PASSWORD", "goodspec");
  EXPECT("$user = \\\"mg1021\\\"; $password = \\\"goodspec\\\";", "PASSWORD", "goodspec");
  REJECT("$password = Read-Host -AsSecureString", "PASSWORD");
  EXPECT("$user = \"mg1021\";   $password = goodspec;", "PASSWORD", "goodspec");
  REJECT("$password = null;", "PASSWORD");
  REJECT("if ($password == $confirm) { save(); }", "PASSWORD");
  /* what the name points at, or the text between two literals */
  REJECT("this.addPassword = \"#add-password\";", "PASSWORD");
  REJECT("IAMUserChangePassword = \"arn:aws:iam::aws:policy/IAMUserChangePassword\"", "PASSWORD");
  REJECT("\"//localhost:1337/:_password = \"+new Buffer(\"feast\").toString(\"base64\")", "PASSWORD");
  REJECT("echo 'password = '.$p['config']['daemon_password'].\"\\n\";", "PASSWORD");
  REJECT("{\"/docs/creating-a-strong-password\":\"/docs/enterprise/keeping-your-account\"}", "PASSWORD");
  REJECT("\"password\": \"&lt;YOUR_PASSWORD&gt;\"", "PASSWORD");
  REJECT("#define PASSWORD 0x0dead1beef7cafe2", "PASSWORD");
  /* a word that is a value in a URL is a password; the words for the fields are not */
  EXPECT("postgresql://user:secret@localhost/database", "PASSWORD", "secret");
  REJECT("postgresql://user:password@localhost/database", "PASSWORD");
  /* psexec's and sshpass' -p take the password; mysql's -p prompts, a variable or
   * the field's name is no value */
  EXPECT("PSEXEC.EXE \\\\host -u DOMAIN\\my-user -p mypass CMD", "PASSWORD", "mypass");
  EXPECT("sshpass -p hunter2 ssh deploy@10.1.2.3", "PASSWORD", "hunter2");
  REJECT("mysql -u root -p mydb < dump.sql", "PASSWORD");
  REJECT("psExec \\\\host -u User -p $Password -i -d calc.exe", "PASSWORD");
  REJECT("start PsExec.exe -u DOMAIN\\ADMINISTRATOR -p PASSWORD cmd", "PASSWORD");
  /* the literal a call ends with, not one a key goes on from */
  REJECT("{\"ticket\": \"full-pass\", \"payment\": {\"card\": \"visa\"}}", "PASSWORD");
  REJECT("resp.headers['Access-Control-Allow-Credentials'] = 'true'", "PASSWORD");
  REJECT("Make the code pass `go vet` and the race detector.", "PASSWORD");
  EXPECT("ftp user anonymous pass `guest123`", "PASSWORD", "guest123");
}

static void placeholders_are_not_secrets(void **s) {
  (void)s;
  const char *ph[] = {
      "password: <YOUR_PASSWORD>",
      "password = \"$DB_PASSWORD\"",
      "api_key: xxxxxxxxxxxxxxxxxxxx",
      "export API_KEY=${API_KEY}",
      "token = os.environ[\"GITHUB_TOKEN\"]",
      "password = getPassword()",
      /* a variable in inline code; a name glued to the backtick that closes it */
      "Why does `Object.freeze(config)` not stop `config.db.password = newValue` from working?",
      "Pon la clave en `os.environ[\"MAPS_KEY\"]` y no en el código; en el README dejamos "
      "`MAPS_KEY=cambia-esto` como ejemplo.",
      "La clave del problema es la demanda: la clave está en el precio.",
      "CREATE USER app IDENTIFIED BY '${DB_PASSWORD}';",
      /* a prompt; a weak word far after; another sentence; an XML placeholder */
      "char[] password = console.readPassword(\"Password: \");",
      "The password policy for the office is strict: 12 characters.",
      "I forgot my password. The code is AB12cd34ef.",
      "<password>${env.NEXUS_PASSWORD}</password>",
      "String q = \"SELECT * FROM users WHERE name='\" + username + \"' AND password='\" + password + \"'\";",
      "パスワードを忘れました",
      "localhost:5432:db:user:*",
      "docker run -p 8080:80 nginx",
      "DATABASE_URL=postgres://utilisateur:motdepasse@localhost:5432/nom_de_la_base",
      "tar -a -cf x.tar.gz dir",
      "In bash, I prompt with `read -s -p \"Password: \" password` and then call `mysqldump -p\"$password\" ...`.",
      "show a checklist under the password field? | const [password, setPassword] = useState(\"\");",
      "SecureString pwd = passwordBox.SecurePassword;",
      "auth=(\"only\",)",
      "headers={'Authorization': 'Bearer [REDACTED]', 'Idempotency-Key': '87ba1589-f1da-4dc6-8473-65b3c16a86a6'}",
      "Please reset your password before Monday.",
      "passengers: [\"quickBrown\", \"lazyDog\"]",
      "PWR_MGM: N0tThePSw45f!!!",
      "RUN openssl x509 -req -days 365 -passin \"file:dkajco1\" -sha256",
      "api_key = \"your-api-key-here\"",
      "api_key = \"fake_api_key_1234\"", "api_key = \"fake-key-for-tests-only-do-not-use\"",
      /* variable reads and references, not values */
      "MARIADB_ROOT_PASSWORD: ${DB_ROOT_PASSWORD:?set DB_ROOT_PASSWORD in .env}",
      "  password = random_password.db.result\n",
      "  password = var.db_password\n",
      /* public by construction: an inline image, an SSH public key, integrity
       * hashes, a certificate */
      "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAMAAAADCAIAAADZSiLoAAAAJ0lEQVR4nGPoEQtIuGAz+fAThv3OocvL3KrPhzK8ntMofLyQN1MNAMhfDOG7CXqJAAAAAElFTkSuQmCC\">",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIgN69/83yIzGpTfG5JAav833ohRPn7y3HsPstcdXCRV0 ci-runner",
      "golang.org/x/crypto v0.21.0 h1:AHoNK1HQnAp6T55d4qzqbG9VSS2t6rIsg0kFoZUs7TQ=",
      "\"integrity\": \"sha512-mVRAVB9dxYGbCxNeOOO6V9ESoMFLwvYDDcwNvTyg84kq7Gx3N1WbEu1Y4Q3sT0Jq9ZpNnK2Q==\"",
      "-----BEGIN CERTIFICATE-----\nMIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAwDQYJKoZIhvcNAQELBQAw\n"
      "glQTTK+29FH7iYpdP6bKnYZPMVHc7F4CKRxzUVJM9XD4JZ+4MJX8ZuIr9cy0xEw0\n-----END CERTIFICATE-----",
      /* templates, labels, a JWT's header alone, a key fingerprint, a masked key id */
      "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DBNAME",
      "Password requirements:\n- at least 12 characters",
      "The JWT header encodes to eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9. The payload follows.",
      "The key fingerprint is:\nSHA256:Cd8NSwnvrs8jbd88EVuzgNueTYqXZkzcsLISz4ser5g build-agent",
      "    value: AKIAXXXXXXXXXXXXXXXX   # placeholder",
      "md5 of the file: 73c65fe5b0bdb5e3eb4d96230ffa92c8",
      /* a call whose secret is a variable, a path after the word */
      "pw = keyring.get_password(\"lumenfold-sync\", getpass.getuser())",
      "keyring.set_password(\"lumenfold-sync\", getpass.getuser(), pw)",
      "$ vault kv get -field=password secret/prod/orders-db",
      /* public or not secret: a publishable key, a nonce, an OAuth client id, a
       * KMS key ARN, a YAML tag, a pattern for keys, a Sentry DSN placeholder,
       * a transaction hash, echoing a variable into a login */
      "const stripe = Stripe('pk_live_5100f8OQAjxuLmm0KhKtIRrtUUoS1miMYH1xUnKx8ZqjKoHjbhGhpJw3rwmG4d225KzKY5eHm');",
      "<script nonce=\"fsH1THHsXvK26ETyBD+Pfw==\">",
      "GOOGLE_CLIENT_ID=704133771176-6fzzh6bfnkzkx6no5j8uoz2u88n8x58q.apps.googleusercontent.com",
      "kms_master_key_id = \"arn:aws:kms:eu-west-1:362520534356:key/97cfa1f4-2feb-4a10-9291-2a487129b285\"",
      "my_db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n",
      "  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]+?-----END [A-Z ]*PRIVATE KEY-----/g,",
      "  dsn: \"https://examplePublicKey@o0.ingest.sentry.io/0\",",
      "  tx hash:  0xbe751f9ebc82e22a19f222a5f72ef4745ec59bdc7ae8b720ece2cbb4e3bebd66",
      "echo \"$CR_PAT\" | docker login ghcr.io -u bob --password-stdin",
      "c = HttpClient(\"https://example.com/api/v1\")",
      "    \"aws_access_key\": r\"(A3T[A-Z0-9]|AKIA|ASIA)[A-Z2-7]{16}\",",
      "ftp.login(user, pw)",
      "Please reset your password this morning",
      /* a wallet-shaped run inside a PGP public key */
      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGZevZE2lW1aFM7d2Cx0EmBeJQuDAk85MN1KeR7Jpl9sAteH/NCU1KYI0ItO\n"
      "364XR70Ch/FJwNWJzinY/lJ3hue8cKtUn7/1M1qAKNkKKvMDTBngUhfr8RWgcJMT\n-----END PGP PUBLIC KEY BLOCK-----",
      /* encoded prose, nginx's upstream directive, a placeholder phrase, a pattern */
      "What does SGVsbG8sIFdvcmxkISBUaGlzIGlzIGp1c3QgYSB0ZXN0IHN0cmluZy4= decode to?",
      "location /admin/ {\n    proxy_pass http://admin_upstream;\n}",
      "create_user(username=\"alice\", password=\"not-a-real-password\")",
      "RFC 4231 test case 1: Key = 0x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
      "create_engine('postgresql+psycopg2://user:password@localhost/dbname')",
      /* dotted names, an IPFS content ID, a host key's fingerprint, a public JWK */
      "val k = MasterKey.Builder(ctx).setKeyScheme(MasterKey.KeyScheme.AES256_GCM).build()",
      "sasl.mechanism=SCRAM-SHA-512",
      "What is a CIDv0 like QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG?",
      "ED25519 key fingerprint is SHA256:UZlpEM5P6Q5m5e+56cHTCSYcpdBBwwPOeZQSvsNbbC0.",
      "{\"kty\": \"RSA\", \"e\": \"AQAB\", \"n\": \"UOtlVRicYxIpylflPbbTbD_P2vO3OCKakrV2zkLudUU4ooDvwzTG2Gg_zd2Y3FZueT7R3Wl4\"}",
      "make_user(password=\"correct-test-password\")",
      /* what a key-named setting holds that is no secret (gitleaks' own negatives):
       * an id, a version, a host, a file, a secret's name, code, a public key,
       * an encrypted value, a signature header */
      "\"kms_key_id\": \"555ea4a3-d53a-4412-9c66-3a7cb667b0d6\",",
      "<UserSecretsId>79a3edd0-2092-40a2-a04d-dcb46d5ca9ed</UserSecretsId>",
      "COMMUNICATION_API_VERSION=rc0.13.0_20230412_0712-SNAPSHOT",
      "MantleAPI_version=9a038989604e8da62ecddbe2094b16ce1b778be1",
      "X-MS-Exchange-Organization-AuthSource: sm02915.int.contoso.com",
      "<SourceFile SourceLocation=\"F:\\Extracts\\\" TokenFile=\"RTL_INST_CODE.cer\">",
      "LLM_SECRET_NAME = \"NEXUS-GPT4-API-KEY\"",
      "environment {\n\tCREDENTIALS_ID = \"K8S_CRED\"\n}",
      "pub const X509_pubkey_st = struct_X509_pubkey_st;",
      "<entry key=\"jetbrains.mps.v8_elimination\" value=\"executed\" />",
      "doc.Security.KeySize = PdfEncryptionKeySize.Key128Bit;",
      "public_key = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\"",
      "withCredentials([usernamePassword(credentialsId: '29f63271-dc2f-4734-8221-5b31b5169bac', "
      "usernameVariable: 'USERNAME', passwordVariable: 'PASSWORD')]) {",
      "curl http://127.0.0.1:5000/file --user user:pass --digest",
      "  - name: ENC[AES256_GCM,data:W3PiZ6lD6bpfAdI=,iv:2qF98ZkchgfWF4tZo8fok6zY0ZLNRV3wFpl8n2iyC7I=,"
      "tag:FzoL+CZHkLEqfWKniRApBA==,type:str]",
      "DKIM-Signature: v=1; a=rsa-sha256; d=gmail.com; s=20120113;\n"
      " bh=x6iFLZEfsi3q/M7JR1K7Mi6vJPXgBQMYpo85Bo8IkKg=;\n b=eC5rmQg0UzlR53mVM0YaFKB34gblaZ7hx7eg2zN1vda2hpsrwl2",
  };
  for (size_t i = 0; i < sizeof ph / sizeof ph[0]; i++) {
    if (level_of(ph[i]) >= SL_LEVEL_CONFIDENTIAL) fprintf(stderr, "flagged: %s\n", ph[i]);
    assert_true(level_of(ph[i]) < SL_LEVEL_CONFIDENTIAL);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(providers), cmocka_unit_test(cloud), cmocka_unit_test(keys_and_tokens),
      cmocka_unit_test(passwords), cmocka_unit_test(login_lines), cmocka_unit_test(otp_secrets), cmocka_unit_test(placeholders_are_not_secrets),
  };
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
