/* Personal-data detectors: positives with exact spans, negatives, context IDs. */
#include "router_test_util.h"

static void email(void **s) {
  (void)s;
  EXPECT("write to jane.doe+news@example.co.uk today", "EMAIL_ADDRESS", "jane.doe+news@example.co.uk");
  REJECT("the @decorator syntax and a@b", "EMAIL_ADDRESS");
  /* a URL's password is no mailbox; masks and a template's slots are none */
  REJECT("https://username:s3cretPw@example.com/x", "EMAIL_ADDRESS");
  assert_true(found("https://deploy:Xk8w2pq9@git.corp.io/repo", "PASSWORD", "Xk8w2pq9"));
  REJECT("email xxxx@demo.com or 1111@service.com", "EMAIL_ADDRESS");
  REJECT("use YOUR_PASSWORD@api.service.com", "EMAIL_ADDRESS");
  EXPECT("aaa@gmail.com", "EMAIL_ADDRESS", "aaa@gmail.com");
  /* an emoji or a bracket before the address is not part of it; letters of
   * other scripts are */
  EXPECT("Mail \xf0\x9f\x93\xa7laila.hansen@example.com now", "EMAIL_ADDRESS", "laila.hansen@example.com");
  EXPECT("\xe3\x80\x8cmaria@acme-corp.com\xe3\x80\x8d", "EMAIL_ADDRESS", "maria@acme-corp.com");
  EXPECT("j\xc3\xbcrgen.m\xc3\xbcller@firma.de ist da", "EMAIL_ADDRESS", "j\xc3\xbcrgen.m\xc3\xbcller@firma.de");
  EXPECT("author = \"james.fake@ymail.com\",", "EMAIL_ADDRESS", "james.fake@ymail.com");
  REJECT("dsn: \"https://examplePublicKey@o0.ingest.sentry.io/0\"", "EMAIL_ADDRESS");
  /* written out against harvesters */
  EXPECT("write to m.delacroix [at] univ-lyon2 [dot] fr instead", "EMAIL_ADDRESS",
         "m.delacroix [at] univ-lyon2 [dot] fr");
  EXPECT("mail john.doe(at)example(dot)com", "EMAIL_ADDRESS", "john.doe(at)example(dot)com");
  EXPECT("jane [AT] corp.example.org", "EMAIL_ADDRESS", "jane [AT] corp.example.org");
  REJECT("we met (at) noon", "EMAIL_ADDRESS");
  /* documentation domains stay addresses: tests and forms use them for real ones */
  EXPECT("my email is john@example.com", "EMAIL_ADDRESS", "john@example.com");
  /* a local part in other scripts or with an apostrophe, whole; quotes outside it */
  EXPECT("write to j\xc3\xbcrgen.m\xc3\xbcller@firma.de", "EMAIL_ADDRESS",
         "j\xc3\xbcrgen.m\xc3\xbcller@firma.de");
  EXPECT("or zo\xc3\xab@example.com", "EMAIL_ADDRESS", "zo\xc3\xab@example.com");
  EXPECT("mail O'Brien@corp.ie", "EMAIL_ADDRESS", "O'Brien@corp.ie");
  EXPECT("\xe2\x80\x9c" "bob@corp.com\xe2\x80\x9d", "EMAIL_ADDRESS", "bob@corp.com");
  EXPECT("\xc2\xab" "alice@corp.com\xc2\xbb", "EMAIL_ADDRESS", "alice@corp.com");
  /* a repository's SSH address is no mailbox; the same account written as an address is */
  REJECT("git clone git@github.com:torvalds/linux.git && cd linux", "EMAIL_ADDRESS");
  /* a URL's user part that reads as a person's mailbox is one; a service's is not */
  EXPECT("see http://maria.keller@acme-corp.com/x", "EMAIL_ADDRESS", "maria.keller@acme-corp.com");
  REJECT("clone ssh://git@github.com/a/b.git or https://x-access-token@github.com/o/r.git", "EMAIL_ADDRESS");
  EXPECT("mail git@acme.com: the build broke", "EMAIL_ADDRESS", "git@acme.com");
  REJECT("look [at] this", "EMAIL_ADDRESS");
  /* in words, or spaced out; plain "at" before a domain needs a sign of an address */
  EXPECT("email me at p dot okafor at fastmail dot com when it is ready", "EMAIL_ADDRESS",
         "p dot okafor at fastmail dot com");
  EXPECT("send it to lena.berg at posteo.de please", "EMAIL_ADDRESS", "lena.berg at posteo.de");
  EXPECT("ping tomas_r AT proton DOT me", "EMAIL_ADDRESS", "tomas_r AT proton DOT me");
  EXPECT("write to a.silva @ uol . com . br", "EMAIL_ADDRESS", "a.silva @ uol . com . br");
  REJECT("have a look at google.com first", "EMAIL_ADDRESS");
  REJECT("She works at amazon.com and stays at home dot", "EMAIL_ADDRESS");
  REJECT("the bug at config.yaml line 3", "EMAIL_ADDRESS");
}

static void phone(void **s) {
  (void)s;
  /* an access log's status and size after the request line */
  REJECT("10.0.4.22 - - [12/Feb/2025:06:25:26 +0000] \"GET /metrics HTTP/1.1\" 200 18342 \"-\" \"Prometheus/2.49.1\"",
         "PHONE_NUMBER");
  EXPECT("call me at 200 18342 tomorrow", "PHONE_NUMBER", "200 18342");
  EXPECT("Call me at +44 20 7946 0958 tomorrow", "PHONE_NUMBER", "+44 20 7946 0958");
  EXPECT("my number is (555) 123-4567.", "PHONE_NUMBER", "(555) 123-4567");
  EXPECT("my number is 5551234567", "PHONE_NUMBER", "5551234567");
  /* the head of an ISBN-13 (check digit right) is no phone; of another code it still is */
  REJECT("the first edition was 978-0-201-63361-0, the second", "PHONE_NUMBER");
  /* a count in thousands' groups */
  REJECT("The population of Lagos was estimated at 15 388 000 people.", "PHONE_NUMBER");
  EXPECT("call 020 7946 0958 today", "PHONE_NUMBER", "020 7946 0958");
  EXPECT("the first edition was 978-0-201-63361-5, the second", "PHONE_NUMBER", "978-0-201-63361");
  /* "number" after what it numbers, a version, a list of numbers: no phone */
  REJECT("SAP document number 5100004711", "PHONE_NUMBER");
  REJECT("Case number 03-90823-CV was filed in 2023.", "PHONE_NUMBER");
  REJECT("tracking number 8390 7204 3995 shows delivery exception", "PHONE_NUMBER");
  REJECT("NVIDIA driver is 535.154.05", "PHONE_NUMBER");
  REJECT("Sort these numbers: 4405140135", "PHONE_NUMBER");
  EXPECT("order 5531, phone number 415-555-0199", "PHONE_NUMBER", "415-555-0199");
  EXPECT("Phone:\n0393 1144137", "PHONE_NUMBER", "0393 1144137");
  EXPECT("reach me on 06 12 34 56 78", "PHONE_NUMBER", "06 12 34 56 78");
  REJECT("What is 49.8+1.021789 rounded?", "PHONE_NUMBER");
  REJECT("Round 504.6739 to two places", "PHONE_NUMBER");
  REJECT("in 2019 2020 we grew", "PHONE_NUMBER");
  /* tariff codes: named so, or of their 4.2.4 dotted shape */
  REJECT("HTS 9403.60.8081 or 9403.20.0090 for a desk?", "PHONE_NUMBER");
  REJECT("does 9403.60.8081 or 9403.20.0090 fit a desk?", "PHONE_NUMBER");
  EXPECT("reach me on 612.555.0143 after six", "PHONE_NUMBER", "612.555.0143");
  /* the French format needs no cue; cue words in other languages */
  EXPECT("c'est le 06 12 48 73 95, rappelle-moi", "PHONE_NUMBER", "06 12 48 73 95");
  EXPECT("appelle 01.45.67.89.10 demain", "PHONE_NUMBER", "01.45.67.89.10");
  EXPECT("meine Nummer ist 0171 23 45 67 89", "PHONE_NUMBER", "0171 23 45 67 89");
  REJECT("die Zahlen 0171 23 45 67 89", "PHONE_NUMBER");
  /* the tail of an order or invoice number */
  REJECT("Order #A-55192-7781 shipped from Rotterdam", "PHONE_NUMBER");
  REJECT("Invoice INV-2024-00871 is due", "PHONE_NUMBER");
  REJECT("Order 7730-1193 (2x ergonomic chair) was shipped", "PHONE_NUMBER");
  REJECT("meine Bestellung Nr. 302-8841-556 vom 4. Juni", "PHONE_NUMBER");
  REJECT("00000010  00 00 02 80 00 00 01 e0  08 06 00 00 00 35 d1 dc  |.......|", "PHONE_NUMBER");
  REJECT("00000000: 8950 4e47 0d0a 1a0a 0000 000d 4948 4452  .PNG........IHDR", "PHONE_NUMBER");
  EXPECT("To order, call 555-123-4567", "PHONE_NUMBER", "555-123-4567");
  REJECT("Convert the decimal number 4294967295 to hexadecimal.", "PHONE_NUMBER");
  REJECT("Does the number 79927398713 pass the Luhn check?", "PHONE_NUMBER");
  EXPECT("my number is 4155550123", "PHONE_NUMBER", "4155550123");
  REJECT("match dates like 2024-03-07 but reject 2024-13-40?", "PHONE_NUMBER");
  EXPECT("Call me at 7730-1193", "PHONE_NUMBER", "7730-1193");
  /* a number, then a bracketed range */
  REJECT("New Orleans, LA 70130 (2017-2021)", "PHONE_NUMBER");
  EXPECT("call +44 (0) 20 7946 0958", "PHONE_NUMBER", "+44 (0) 20 7946 0958");
}

/* Typographic and width variants (fold.c): found like their plain forms, and
 * reported at their spans in the original text. */
static void variants(void **s) {
  (void)s;
  EXPECT("Charge card \xef\xbc\x94\xef\xbc\x95\xef\xbc\x95\xef\xbc\x96 7375 8689 9855 now", "CREDIT_CARD",
         "\xef\xbc\x94\xef\xbc\x95\xef\xbc\x95\xef\xbc\x96 7375 8689 9855"); /* full-width digits */
  /* a number inside an identifier or file name, after an underscore */
  EXPECT("Summarise statement_4111111111111111.pdf", "CREDIT_CARD", "4111111111111111");
  EXPECT("order_4111-1111-1111-1111_x", "CREDIT_CARD", "4111-1111-1111-1111");
  /* a product's barcode that passes Luhn; a card on the line after such a word */
  REJECT("Opis produktu: kod ORL-55-PL, EAN 5901234123457, olej silnikowy 5W-30.", "CREDIT_CARD");
  EXPECT("tracking number below\nRefund to 6011 0349 7721 5089", "CREDIT_CARD", "6011 0349 7721 5089");
  EXPECT("Kart numaram 9792 7022 5949 9816, son kullanma 04/27.", "CREDIT_CARD", "9792 7022 5949 9816"); /* Troy */
  EXPECT("Lookup ssn_078-05-1120", "US_SSN", "078-05-1120");
  /* a CSV's fields: a run of 13 digits or more beside a comma is no amount
   * (thousands come in threes), nor before a decimal point or after a
   * currency sign; a dashed SSN after a row's number */
  EXPECT("order_id,pan,exp\n1001,4111111111111111,12/27,19.99", "CREDIT_CARD", "4111111111111111");
  EXPECT("my credit card number: 4111111111111111,12/27", "CREDIT_CARD", "4111111111111111");
  EXPECT("cards = [4111111111111111,5500000000000004]", "CREDIT_CARD", "5500000000000004");
  EXPECT("Pay with 4111111111111111.00 thanks", "CREDIT_CARD", "4111111111111111");
  EXPECT("Bob $4111111111111111", "CREDIT_CARD", "4111111111111111");
  EXPECT("id,ssn\n1,512-84-3927", "US_SSN", "512-84-3927");
  REJECT("pi is 3.1415926535897932384626 and e is 2.718281828459045", "CREDIT_CARD");
  REJECT("Total: 1,234,567,890,123.45 units", "CREDIT_CARD");
  REJECT("IMG_20230812_143022.jpg file_1699999999999.log build_20240115_rc1", "CREDIT_CARD");
  EXPECT("Charge card 4556\xc2\xa0" "7375\xc2\xa0" "8689\xc2\xa0" "9855 now", "CREDIT_CARD",
         "4556\xc2\xa0" "7375\xc2\xa0" "8689\xc2\xa0" "9855"); /* no-break spaces */
  /* a spreadsheet's cells pasted (tabs), line or paragraph separators */
  EXPECT("My Visa:\t4111\t1111\t1111\t1111", "CREDIT_CARD", "4111\t1111\t1111\t1111");
  EXPECT("Visa 4111\xe2\x80\xa8" "1111\xe2\x80\xa9" "1111 1111", "CREDIT_CARD",
         "4111\xe2\x80\xa8" "1111\xe2\x80\xa9" "1111 1111");
  REJECT("id\t4111\tname\t1111\t1111\t1111", "CREDIT_CARD"); /* a word between cells */
  EXPECT("My SSN is 512\xe2\x80\x93" "84\xe2\x80\x93" "3927.", "US_SSN",
         "512\xe2\x80\x93" "84\xe2\x80\x93" "3927"); /* en dashes */
  EXPECT("mail maria.keller@acme\xe2\x80\x8b-logistics.com ok", "EMAIL_ADDRESS",
         "maria.keller@acme\xe2\x80\x8b-logistics.com"); /* a zero-width space inside */
  EXPECT("mail maria.keller\xef\xbc\xa0" "acme.com", "EMAIL_ADDRESS",
         "maria.keller\xef\xbc\xa0" "acme.com"); /* a full-width at sign */
  EXPECT("Karte \xd9\xa4\xd9\xa5\xd9\xa5\xd9\xa6 7375 8689 9855", "CREDIT_CARD",
         "\xd9\xa4\xd9\xa5\xd9\xa5\xd9\xa6 7375 8689 9855"); /* Arabic-Indic digits */
  /* mathematical bold digits (U+1D7D3 = 5 ...), an emoji beside them unchanged */
  EXPECT("My SSN is \xf0\x9d\x9f\x93\xf0\x9d\x9f\x8f\xf0\x9d\x9f\x90-\xf0\x9d\x9f\x96\xf0\x9d\x9f\x92-"
         "\xf0\x9d\x9f\x91\xf0\x9d\x9f\x97\xf0\x9d\x9f\x90\xf0\x9d\x9f\x95 \xf0\x9f\x98\x80", "US_SSN",
         "\xf0\x9d\x9f\x93\xf0\x9d\x9f\x8f\xf0\x9d\x9f\x90-\xf0\x9d\x9f\x96\xf0\x9d\x9f\x92-"
         "\xf0\x9d\x9f\x91\xf0\x9d\x9f\x97\xf0\x9d\x9f\x90\xf0\x9d\x9f\x95");
  /* an internationalised domain; the punctuation after it is not part of it */
  EXPECT("write to \xe2\x80\x9cmaria@b\xc3\xbc" "cher-m\xc3\xbcller.de\xe2\x80\x9d\xe3\x80\x82 thanks",
         "EMAIL_ADDRESS", "maria@b\xc3\xbc" "cher-m\xc3\xbcller.de");
  EXPECT("driver\xe2\x80\x99s license K932-778-3840 was uploaded", "US_DRIVER_LICENSE", "K932-778-3840");
  /* full-width digits joined by full-width hyphens or en dashes */
  EXPECT("My SSN is \xef\xbc\x95\xef\xbc\x91\xef\xbc\x92\xef\xbc\x8d\xef\xbc\x98\xef\xbc\x94"
         "\xef\xbc\x8d\xef\xbc\x93\xef\xbc\x99\xef\xbc\x92\xef\xbc\x97 ok", "US_SSN",
         "\xef\xbc\x95\xef\xbc\x91\xef\xbc\x92\xef\xbc\x8d\xef\xbc\x98\xef\xbc\x94"
         "\xef\xbc\x8d\xef\xbc\x93\xef\xbc\x99\xef\xbc\x92\xef\xbc\x97");
  EXPECT("My SSN is \xef\xbc\x95\xef\xbc\x91\xef\xbc\x92\xe2\x80\x93" "84\xe2\x80\x90" "3927.", "US_SSN",
         "\xef\xbc\x95\xef\xbc\x91\xef\xbc\x92\xe2\x80\x93" "84\xe2\x80\x90" "3927");
  /* invisible characters between the digits: a combining mark after each, an
   * Arabic letter mark, a variation selector, a tag character */
  EXPECT("SSN 5\xcc\x81" "1\xcc\x81" "2\xcc\x81-\xcc\x81" "84-3927 ok", "US_SSN",
         "5\xcc\x81" "1\xcc\x81" "2\xcc\x81-\xcc\x81" "84-3927");
  EXPECT("SSN 5\xd8\x9c" "12-84-3927 ok", "US_SSN", "5\xd8\x9c" "12-84-3927");
  EXPECT("SSN 512\xef\xb8\x8f-84-3927 ok", "US_SSN", "512\xef\xb8\x8f-84-3927");
  EXPECT("SSN 512\xf3\xa0\x80\xa0-84-3927 ok", "US_SSN", "512\xf3\xa0\x80\xa0-84-3927");
  /* URL and HTML encoding of the characters that join an address or a number */
  EXPECT("see https://x.io/?e=maria.keller%40acme-logistics.com ok", "EMAIL_ADDRESS",
         "maria.keller%40acme-logistics.com");
  EXPECT("mail maria.keller&#64;acme-logistics.com now", "EMAIL_ADDRESS", "maria.keller&#64;acme-logistics.com");
  EXPECT("mail maria.keller&commat;acme.com now", "EMAIL_ADDRESS", "maria.keller&commat;acme.com");
  EXPECT("SSN 512%2D84%2D3927 ok", "US_SSN", "512%2D84%2D3927");
  REJECT("grew 50% and 40% & more &amp; stuff %zz &#64", "EMAIL_ADDRESS");
  /* an accent written as a separate mark after a letter stays: a name */
  EXPECT("Please ask Jose\xcc\x81 Nun\xcc\x83" "ez about it", "PERSON", "Jose\xcc\x81 Nun\xcc\x83" "ez");
  /* a dash in prose stays punctuation */
  REJECT("Explain the Duckworth\xe2\x80\x93Lewis\xe2\x80\x93Stern method", "PERSON");
  REJECT("lived there 2017\xe2\x80\x93" "2021 and 2009-2012", "PHONE_NUMBER");
  /* JSON text: escapes read (a tool's arguments, json.dumps output, a pasted
   * payload), once or twice escaped; the span is the text as written */
  EXPECT("{\"x\":\"SSN:\\n512-84-3927\"}", "US_SSN", "512-84-3927");
  EXPECT("{\\\"x\\\":\\\"SSN:\\\\t512-84-3927\\\"}", "US_SSN", "512-84-3927");
  EXPECT("{\"e\":\"Email:\\nmaria.keller@acme-corp.com\"}", "EMAIL_ADDRESS", "maria.keller@acme-corp.com");
  EXPECT("{\"customer\": \"Jos\\u00e9 Garc\\u00eda\"}", "PERSON", "Jos\\u00e9 Garc\\u00eda");
  EXPECT("mail maria.keller\\u0040acme-corp.com", "EMAIL_ADDRESS", "maria.keller\\u0040acme-corp.com");
  EXPECT("SSN 512\\u002d84\\u002d3927 ok", "US_SSN", "512\\u002d84\\u002d3927");
  EXPECT("card 4111\\t1111\\t1111\\t1111", "CREDIT_CARD", "4111\\t1111\\t1111\\t1111");
  REJECT("regex \\d{3}-\\d{2}-\\d{4} and C:\\new\\table \\ud83d", "US_SSN");
}

static void card(void **s) {
  (void)s;
  EXPECT("card # 4111 1111 1111 1111 exp 12/29", "CREDIT_CARD", "4111 1111 1111 1111");
  EXPECT("amex 378282246310005", "CREDIT_CARD", "378282246310005");
  REJECT("order 4111111111111112 shipped", "CREDIT_CARD"); /* Luhn fails */
  REJECT("the sum is 11001010100101011", "CREDIT_CARD");
  /* a short group after it is the expiry's month or a CVV, not the card's */
  EXPECT("4111-1111-1111-1111 12/26 123", "CREDIT_CARD", "4111-1111-1111-1111");
  EXPECT("cc 4539 1488 0343 6467-09/26", "CREDIT_CARD", "4539 1488 0343 6467");
  REJECT("ref 1234 5678 9012 3456 789", "CREDIT_CARD");
  /* written loosely: two or three spaces (a PDF's text), spaced hyphens,
   * slashes, every digit apart after a cue */
  EXPECT("card 4556  7375  8689  9855 ok", "CREDIT_CARD", "4556  7375  8689  9855");
  EXPECT("my card: 4556 - 7375 - 8689 - 9855", "CREDIT_CARD", "4556 - 7375 - 8689 - 9855");
  EXPECT("card 4556/7375/8689/9855", "CREDIT_CARD", "4556/7375/8689/9855");
  EXPECT("card 4 5 5 6 7 3 7 5 8 6 8 9 9 8 5 5", "CREDIT_CARD", "4 5 5 6 7 3 7 5 8 6 8 9 9 8 5 5");
  EXPECT("card: 4-5-3-2-0-1-5-1-1-2-8-3-0-3-6-6", "CREDIT_CARD", "4-5-3-2-0-1-5-1-1-2-8-3-0-3-6-6");
  REJECT("sequence 4-5-3-2-0-1-5-1-1-2-8-3-0-3-6-6 in the puzzle", "CREDIT_CARD"); /* no cue */
  REJECT("count 1 2 3 4 5 6 7 8 9 1 2 3 4 5 6 7 8", "CREDIT_CARD");
  REJECT("scores 133   171   204   412   380   455", "PHONE_NUMBER"); /* a table's columns */
  REJECT("00000000  89 50 4e 47 0d 0a 1a 0a", "PHONE_NUMBER");
}

static void iban_ssn(void **s) {
  (void)s;
  EXPECT("pay to GB82 WEST 1234 5698 7654 32 please", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32");
  EXPECT("IBAN: 'IN60 ITDB000000000000XA'", "IBAN_CODE", "IN60 ITDB000000000000XA");
  /* in lower case after the word, when the check digits hold */
  EXPECT("my iban is gb42nawi04454264788619", "IBAN_CODE", "gb42nawi04454264788619");
  REJECT("my iban is gb42nawi04454264788618", "IBAN_CODE");
  EXPECT("mi iban es es7021009257967697658373 para el reembolso", "IBAN_CODE", "es7021009257967697658373");
  EXPECT("mein IBAN ist DE89370400440532013000 bitte", "IBAN_CODE", "DE89370400440532013000");
  EXPECT("Here's my SSN: 536-22-1234", "US_SSN", "536-22-1234");
  EXPECT("social security number 536221234", "US_SSN", "536221234");
  REJECT("ticket 666-12-3456", "US_SSN");
  /* a published example given as an SSN is one; uncued, it is not */
  EXPECT("SSN: 078-05-1120", "US_SSN", "078-05-1120");
  EXPECT("social security number 123-45-6789", "US_SSN", "123-45-6789");
  REJECT("ticket 123-45-6789", "US_SSN");
  REJECT("call 536 22 1234", "US_SSN"); /* no dashes, no context */
  EXPECT("My SSN is 512  84  3927", "US_SSN", "512  84  3927");
  EXPECT("SSN 512 - 84 - 3927 ok", "US_SSN", "512 - 84 - 3927");
  /* wrapped at a hyphen, or split between two parts of a message (joined by a
   * line break); only a whole 3-2-4 */
  EXPECT("My SSN is 512-84-\n3927", "US_SSN", "512-84-\n3927");
  EXPECT("My SSN is 512-\n84-3927", "US_SSN", "512-\n84-3927");
  EXPECT("My SSN is 512-84\n-3927.", "US_SSN", "512-84\n-3927");
  REJECT("the 2023-12-\n2024 report", "US_SSN");
  REJECT("My SSN is 512-84-\n39270", "US_SSN");
  REJECT("My SSN is 512-84\n3927", "US_SSN"); /* a line break alone separates */
}

static void ip(void **s) {
  (void)s;
  EXPECT("ssh to 10.1.188.121 now", "IP_ADDRESS", "10.1.188.121");
  EXPECT("bind 2001:db8::8a2e:370:7334 ok", "IP_ADDRESS", "2001:db8::8a2e:370:7334");
  REJECT("version 1.2.3.400 released", "IP_ADDRESS");
  REJECT("gunicorn app:app -b 0.0.0.0:8000", "IP_ADDRESS");
  REJECT("curl http://127.0.0.1:8080/ and mask 255.255.255.255", "IP_ADDRESS");
  REJECT("std::vector<int> a; meet at 10:30:00", "IP_ADDRESS");
  /* networks and netmasks are no hosts; a /32 is one */
  REJECT("Split 10.20.0.0/16 into /20 subnets", "IP_ADDRESS");
  REJECT("we have the prefix 2001:db8:4a00::/48 for the campus", "IP_ADDRESS");
  REJECT("the mask 255.255.255.240 is a /28", "IP_ADDRESS");
  EXPECT("block 10.0.0.5/32 at the edge", "IP_ADDRESS", "10.0.0.5");
  EXPECT("the login came from 203.0.113.72", "IP_ADDRESS", "203.0.113.72");
  /* the public resolvers everyone types name no one */
  REJECT("Why does ping 8.8.8.8 work but ping google.com fail? DNS is set to 1.1.1.1.", "IP_ADDRESS");
  REJECT("use 9.9.9.9 or 208.67.222.222 as the resolver", "IP_ADDRESS");
  EXPECT("ping 8.8.8.9 from the office", "IP_ADDRESS", "8.8.8.9");
}

static void dates(void **s) {
  (void)s;
  EXPECT("Ich bin unter (08652) 566720 erreichbar.", "PHONE_NUMBER", "(08652) 566720");
  EXPECT("Please tell me your date of birth. It's 9/25/1945", "DATE_OF_BIRTH", "9/25/1945");
  EXPECT("She was born on March 3, 1990 in Lyon", "DATE_OF_BIRTH", "March 3, 1990");
  /* months and cues of other languages, and cues inside field names */
  EXPECT("geboren am 3. Mai 1947 in Hamburg", "DATE_OF_BIRTH", "3. Mai 1947");
  EXPECT("Herr Klaus Weber, geb. 03.05.1947, wohnhaft in K\xc3\xb6ln.", "DATE_OF_BIRTH", "03.05.1947");
  EXPECT("Il est n\xc3\xa9 le 12 juillet 1990 \xc3\xa0 Lyon.", "DATE_OF_BIRTH", "12 juillet 1990");
  EXPECT("n\xc3\xa9" "e le 1er d\xc3\xa9" "cembre 1980", "DATE_OF_BIRTH", "1er d\xc3\xa9" "cembre 1980");
  EXPECT("nacida el 2 de septiembre de 1975", "DATE_OF_BIRTH", "2 de septiembre de 1975");
  EXPECT("nato il 12 luglio 1990", "DATE_OF_BIRTH", "12 luglio 1990");
  EXPECT("data de nascimento: 5 de mar\xc3\xa7o de 1970", "DATE_OF_BIRTH", "5 de mar\xc3\xa7o de 1970");
  EXPECT("geboren op 5 maart 1980", "DATE_OF_BIRTH", "5 maart 1980");
  EXPECT("{\"nombre\":\"Luc\xc3\xad" "a\",\"fecha_nacimiento\":\"1989-06-21\"}", "DATE_OF_BIRTH", "1989-06-21");
  EXPECT("{\"dateOfBirth\":\"1990-01-01\"}", "DATE_OF_BIRTH", "1990-01-01");
  REJECT("We had 3 outages 2021 and 5 main 2020 events", "DATE_TIME");
  /* UK identifiers by their shapes: a National Insurance number in groups (one
   * token alone only after a cue), a DVLA driving licence number */
  EXPECT("Please verify the NI AZ 123456 A.", "NATIONAL_ID", "AZ 123456 A");
  /* the numbers' names of more countries */
  EXPECT("Teudat zehut 811501071 \xe2\x80\x94 please verify.", "NATIONAL_ID", "811501071");
  EXPECT("Rijksregisternummer: 87.07.17-131.71", "NATIONAL_ID", "87.07.17-131.71");
  EXPECT("RUT 20.902.289-3", "NATIONAL_ID", "20.902.289-3");
  EXPECT("AHV-Nummer 756.9000.2506.84", "NATIONAL_ID", "756.9000.2506.84");
  REJECT("Step 4/9 : RUN npm ci 2024-06-01T08 and 1289 packages", "NATIONAL_ID"); /* a Dockerfile's RUN */
  EXPECT("The number is AZ 123 456 A.", "NATIONAL_ID", "AZ 123 456 A");
  REJECT("part AB123456C in stock", "NATIONAL_ID");
  REJECT("the example QQ 12 34 56 C", "NATIONAL_ID");
  EXPECT("My DVLA NO is MORGA 753 116 SM91J 01 could you check", "US_DRIVER_LICENSE", "MORGA 753 116 SM91J 01");
  EXPECT("licence MORGA753116SM9IJ", "US_DRIVER_LICENSE", "MORGA753116SM9IJ");
  /* SQL INSERT values under a person's name, birth date or address columns
   * (string literals only; not parameters, NULL or stand-ins) */
  {
    const char *sql = "INSERT INTO customers (\n\tfirst_name,\n    last_name,\n    birth_date)\n"
                      "VALUES (\n    'John', \n    'Smith', \n    '1990-01-01')";
    EXPECT(sql, "PERSON", "John");
    EXPECT(sql, "DATE_OF_BIRTH", "1990-01-01");
  }
  REJECT("INSERT INTO patients (patient_name, dob) VALUES (:name, :dob)", "PERSON");
  REJECT("INSERT INTO t (first_name, last_name) VALUES ('first', 'last')", "PERSON");
  REJECT("INSERT INTO products (name, price) VALUES ('Widget', 9.99);", "PERSON");
  /* a postcode in its country's shape after its mark is no phone; a Japanese
   * address in Latin letters ends at its postcode */
  REJECT("〒154-0002 東京都世田谷区", "PHONE_NUMBER");
  REJECT("CEP 01304-001", "PHONE_NUMBER");
  EXPECT("call me at 555-0134", "PHONE_NUMBER", "555-0134");
  EXPECT("I moved to 5-12-3 Shimouma, Setagaya-ku, Tokyo 154-0002 last week.", "STREET_ADDRESS",
         "5-12-3 Shimouma, Setagaya-ku, Tokyo 154-0002");
  /* a Swedish personnummer by its shape and check digit */
  EXPECT("Freya Lindqvist, 19850212-2388, Sveavägen 64", "NATIONAL_ID", "19850212-2388");
  REJECT("order 19850212-2389 shipped", "NATIONAL_ID");
  /* an IBAN in lower case with no cue, its check digits proving it */
  EXPECT("transfer it to be89001448271935 by monday", "IBAN_CODE", "be89001448271935");
  REJECT("hash be89001448271936 ok", "IBAN_CODE");
  /* a version's four numbers are no address */
  REJECT("the agent reports version 2.14.0.118 since Monday", "IP_ADDRESS");
  EXPECT("connect from 10.20.30.40 failed", "IP_ADDRESS", "10.20.30.40");
  /* a Korean resident registration number by its shape */
  EXPECT("(\"번호 \", \"730428-2345678\")", "NATIONAL_ID", "730428-2345678");
  REJECT("order 202401-1234567 shipped", "NATIONAL_ID");
  /* an HL7 v2 patient segment, field by field */
  {
    const char *hl7 = "MSH|^~\\&|EPIC|UCLH|||20240101||ADT^A01|1|P|2.4\r"
                      "PID|1||40800000^^^MRENTR^MEDREC||ORANGE^BLOOD^^^^^D||19800101|F|||1 High St^^London\r"
                      "NK1|1|ORANGE^APPLE|SPO";
    EXPECT(hl7, "MEDICAL_RECORD", "40800000");
    EXPECT(hl7, "PERSON", "ORANGE^BLOOD^^^^^D");
    EXPECT(hl7, "DATE_OF_BIRTH", "19800101");
    EXPECT(hl7, "PERSON", "ORANGE^APPLE");
  }
  REJECT("| a | b |\n|---|---|\nPID | 12 |", "PERSON");
  /* said after the date; not the next field's label, not a party */
  EXPECT("1985-01-01 is my birthday.", "DATE_OF_BIRTH", "1985-01-01");
  assert_false(found("passport YA4417829 exp 2031-05-14   DOB 1990-08-30", "DATE_OF_BIRTH", "2031-05-14"));
  assert_true(found("passport YA4417829 exp 2031-05-14   DOB 1990-08-30", "DATE_OF_BIRTH", "1990-08-30"));
  REJECT("Meeting on 2024-03-01; bring your birth certificate", "DATE_OF_BIRTH");
  /* a birth date of history is a date, not anyone's to protect */
  REJECT("Mozart (born 27 January 1756) wrote his first symphony at eight", "DATE_OF_BIRTH");
  EXPECT("Mozart (born 27 January 1756) wrote his first symphony at eight", "DATE_TIME", "27 January 1756");
  EXPECT("She was born 27 January 1956 in Lyon", "DATE_OF_BIRTH", "27 January 1956");
  /* cue words in other languages */
  EXPECT("Inhaberin: Katharina Vogel, geboren am 11.02.1990 in Kassel", "DATE_OF_BIRTH", "11.02.1990");
  EXPECT("née le 3 mars 1985 à Lyon", "DATE_OF_BIRTH", "3 mars 1985");
  EXPECT("fecha de nacimiento: 12/05/1979", "DATE_OF_BIRTH", "12/05/1979");
  EXPECT("Noémi Labbe, né(e) le 12 septembre 1994 à Rennes", "DATE_OF_BIRTH", "12 septembre 1994");
  EXPECT("DOB: 1988-04-12", "DATE_OF_BIRTH", "1988-04-12");
  EXPECT("the meeting is on 2024-05-01", "DATE_TIME", "2024-05-01");
  REJECT("the meeting is on 2024-05-01", "DATE_OF_BIRTH");
  /* the CJK way, after its label */
  EXPECT("生年月日：1990年4月12日", "DATE_OF_BIRTH", "1990年4月12日");
  EXPECT("생년월일: 1990년 4월 12일", "DATE_OF_BIRTH", "1990년 4월 12일");
  assert_int_equal(level_of("the meeting is on 2024-05-01"), SL_LEVEL_INTERNAL);
}

static void context_ids(void **s) {
  (void)s;
  EXPECT("driver's license: D1234567", "US_DRIVER_LICENSE", "D1234567");
  EXPECT("DL# S530-4589-2234", "US_DRIVER_LICENSE", "S530-4589-2234");
  EXPECT("passport number PE12345678 expired", "US_PASSPORT", "PE12345678");
  EXPECT("passport no. X12345678", "US_PASSPORT", "X12345678");
  EXPECT("Driver's license No. D4829-1130-7782 on file", "US_DRIVER_LICENSE", "D4829-1130-7782");
  EXPECT("medical record number 00123456", "MEDICAL_RECORD", "00123456");
  EXPECT("Insurance ID: XJH-4439201", "MEDICAL_RECORD", "XJH-4439201");
  EXPECT("a claim submitted by Policyholder ID 7654321 was", "MEDICAL_RECORD", "7654321");
  EXPECT("Member #: 90348812201 (Blue Cross). Prior auth was rejected", "MEDICAL_RECORD", "90348812201");
  EXPECT("Kontonummer 0918273645, BLZ 37040044 - stimmt das?", "BANK_ACCOUNT", "0918273645");
  assert_false(found("Kontonummer 0918273645, BLZ 37040044 - stimmt das?", "BANK_ACCOUNT", "37040044"));
  EXPECT("Tax file number 459 599 230, is that normal?", "NATIONAL_ID", "459 599 230");
  EXPECT("mon numéro d'assurance sociale 130 224 793", "NATIONAL_ID", "130 224 793");
  EXPECT("My Emirates ID is 784-1990-1234567-1", "NATIONAL_ID", "784-1990-1234567-1");
  EXPECT("Green card number: SRC2190012345", "NATIONAL_ID", "SRC2190012345");
  /* the abbreviations as lower-case field names, in JSON, key=value and CSV */
  EXPECT("{\"client\": 77, \"cpf\": \"529.982.247-25\"}", "NATIONAL_ID", "529.982.247-25");
  EXPECT("user=4410 tckn=10000000146 role=ops", "NATIONAL_ID", "10000000146");
  EXPECT("id;codice_fiscale\n7;RSSMRA85T10A562S", "NATIONAL_ID", "RSSMRA85T10A562S");
  REJECT("Member number growth was 12 percent in 2023; our green card process takes 10 months.",
         "NATIONAL_ID");
  EXPECT("Claim for the burst pipe: home policy #HO-6101733-02, incident", "MEDICAL_RECORD",
         "HO-6101733-02");
  EXPECT("the form wants my son's rodné číslo, it's 160525/2319 — which box", "NATIONAL_ID",
         "160525/2319");
  EXPECT("records for suspect identification number 987654321-REV, including", "NATIONAL_ID",
         "987654321-REV");
  EXPECT("bank account number 3847283911 belonging to", "BANK_ACCOUNT", "3847283911");
  EXPECT("routing number 021000021", "BANK_ACCOUNT", "021000021");
  EXPECT("Acme listed Tax ID 92-7315401 in filings", "NATIONAL_ID", "92-7315401");
  EXPECT("A spreadsheet listed Aadhaar 2345 6789 0123 for the applicant", "NATIONAL_ID", "2345 6789 0123");
  /* the numbers' names in other languages; France's grouped NIR */
  EXPECT("le numéro de sécurité sociale 1 79 09 25 143 008 77.", "NATIONAL_ID", "1 79 09 25 143 008 77");
  EXPECT("Müşteri (T.C. Kimlik No: 51545210508) şubeye geldi", "NATIONAL_ID", "51545210508");
  EXPECT("Codice fiscale: RMNGLI85M41H501U", "NATIONAL_ID", "RMNGLI85M41H501U");
  EXPECT("{\"pps_number\": \"8444340T\"}", "NATIONAL_ID", "8444340T");
  EXPECT("Henkilötunnus: 150688-570L", "NATIONAL_ID", "150688-570L");
  EXPECT("Η κυρία Ελένη Παπαδάκη, με ΑΜΚΑ 15037802264, ζήτησε", "NATIONAL_ID", "15037802264");
  /* CSV fields: a comma after a word, or after an amount with cents, is no decimal separator */
  EXPECT("txn_id,amount,card\nT-9912,49.90,5364664645025505\n", "CREDIT_CARD", "5364664645025505");
  REJECT("pi is 3,14159265358979 roughly", "CREDIT_CARD");
  /* a card read out in groups with dots; a version-like run of four-digit groups is none */
  EXPECT("her card over the phone: 4179.9599.7707.9692 exp 09/27", "CREDIT_CARD", "4179.9599.7707.9692");
  REJECT("build 4179.9599.7707.9693 of the firmware", "CREDIT_CARD");
  EXPECT("emp_no,last,first,ssn\n10441,Valdivia,Catalina,417-29-6630,1985-03-12", "US_SSN", "417-29-6630");
  EXPECT("Пацієнт: Петренко Андрій | Дата народження: 17.03.1979", "DATE_OF_BIRTH", "17.03.1979");
  EXPECT("Η Ελένη γεννήθηκε στις 22/04/1989 και μένει", "DATE_OF_BIRTH", "22/04/1989");
  EXPECT("Candidate: Séamus Ó Loingsigh | Learner permit no.: 108427391 | Test", "US_DRIVER_LICENSE", "108427391");
  EXPECT("caller,callee\n2024-06-01 08:14:22,+353871449203,+353861207755,184", "PHONE_NUMBER", "+353871449203");
  /* hospital number, chart #, a date of birth under a snake_case key */
  EXPECT("Patrick Mulligan (hospital number H0493327) refused", "MEDICAL_RECORD", "H0493327");
  EXPECT("Patient: Kemal Özdemir | Chart #: 2207719 | Medication", "MEDICAL_RECORD", "2207719");
  EXPECT("patient_id=7666185 hiv_status=positive clinic=north", "MEDICAL_RECORD", "7666185");
  EXPECT("Versichertennummer N190289960, Diagnose F32.1", "MEDICAL_RECORD", "N190289960");
  EXPECT("{\"date_of_birth\": \"1996-10-04\"}", "DATE_OF_BIRTH", "1996-10-04");
  /* the printed groups of a National Insurance number, letters included */
  EXPECT("My NI number is QQ 12 34 56 C, can you fill the form?", "NATIONAL_ID", "QQ 12 34 56 C");
  EXPECT("ni number MM 38 41 94 A do i need it", "NATIONAL_ID", "MM 38 41 94 A");
  EXPECT("NI number: AB 12 34 56.", "NATIONAL_ID", "AB 12 34 56");
  /* the numbers' everyday names in a chat */
  EXPECT("dl number K4546644 got suspended smh", "US_DRIVER_LICENSE", "K4546644");
  EXPECT("my social is 356094109 (no dashes)", "US_SSN", "356094109");
  REJECT("my social is 000000000 lol", "US_SSN");
  REJECT("my social is great, 356094109 followers", "US_SSN");
  REJECT("Download the dl number 3 build", "US_DRIVER_LICENSE");
  REJECT("the passport office opens at nine", "US_PASSPORT");
  REJECT("account number formats vary by bank", "BANK_ACCOUNT");
  /* bare "account"/"routing": a long digit run right behind, an ABA checksum */
  EXPECT("Wire it to account 004518273645 today", "BANK_ACCOUNT", "004518273645");
  EXPECT("pay into acct 7781 2234 5501", "BANK_ACCOUNT", "7781 2234 5501");
  EXPECT("routing 021000021, then", "BANK_ACCOUNT", "021000021");
  REJECT("routing 123456789 to the other queue", "BANK_ACCOUNT");
  REJECT("Take into account 3 factors when planning 2024 budgets", "BANK_ACCOUNT");
  REJECT("Log into your account 2 times a day for 15000000 users", "BANK_ACCOUNT");
  /* cue words in other languages, and more national IDs */
  EXPECT("Reisepass-Nr. C4XRT27LM, Inhaberin: Katharina Vogel", "US_PASSPORT", "C4XRT27LM");
  EXPECT("numéro de passeport 18AV23401", "US_PASSPORT", "18AV23401");
  EXPECT("Führerschein Nr. B072RRE2I55", "US_DRIVER_LICENSE", "B072RRE2I55");
  EXPECT("For the new starter form: TFN 559 713 092.", "NATIONAL_ID", "559 713 092");
  /* one digit repeated is nobody's number; a counting run can be someone's */
  REJECT("passport number 000000000 (a test value)", "US_PASSPORT");
  EXPECT("his driver license number 123-456789", "US_DRIVER_LICENSE", "123-456789");
  EXPECT("driver's license number DL:AB12-34CD-56EF", "US_DRIVER_LICENSE", "AB12-34CD-56EF");
  /* labels in Arabic and Chinese */
  EXPECT("الجوال: 0551234867", "PHONE_NUMBER", "0551234867");
  EXPECT("身份证号码：440306199502173620", "NATIONAL_ID", "440306199502173620");
  EXPECT("护照号码：EK4820913", "US_PASSPORT", "EK4820913");
  /* the numbers' names in more languages, an abbreviation's one-letter "n.", an
   * Italian codice fiscale by its check letter alone */
  EXPECT("Paziente: cartella clinica n. 2024/00731, ricovero del 3 marzo.", "MEDICAL_RECORD", "2024/00731");
  EXPECT("N° de dossier patient : HCL-2024-0048213", "MEDICAL_RECORD", "HCL-2024-0048213");
  EXPECT("nº de utente SNS 284917365", "MEDICAL_RECORD", "284917365");
  EXPECT("nr dowodu osobistego AYT148213", "NATIONAL_ID", "AYT148213");
  EXPECT("passaporte CB482917 válido até 2030", "US_PASSPORT", "CB482917");
  EXPECT("Müşteri TC 25730491898 ile kayıtlı", "NATIONAL_ID", "25730491898");
  EXPECT("口座番号4829173に振り込んでください", "BANK_ACCOUNT", NULL);
  EXPECT("Dati cliente — CF: SPSMRC78S23F839Z, residente a Napoli", "NATIONAL_ID", "SPSMRC78S23F839Z");
  REJECT("Part number ABCDEF12G34H567I ships Monday", "NATIONAL_ID"); /* the check letter fails */
}

static void crypto_url(void **s) {
  (void)s;
  EXPECT("send to 0x52908400098527886E0F7030069857D2E4169EE7", "CRYPTO",
         "0x52908400098527886E0F7030069857D2E4169EE7");
  EXPECT("btc bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "CRYPTO",
         "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
  EXPECT("see https://example.com/docs", "URL", "https://example.com/docs");
  assert_int_equal(level_of("see https://example.com/docs"), SL_LEVEL_INTERNAL);
}

static void negatives(void **s) {
  (void)s;
  const char *clean[] = {
      "What is the reciprocal of $0.\\overline{714285}$? Express your answer as a decimal.",
      "Write a knock knock joke about bananas.",
      "def f(x):\n    return x * 2 + 1\n",
      "Which exercises are best for reducing belly fat at home?",
      "We moved here from Estonia",
      "During 2017, Allstate Insurance Group invested heavily in new designs.",
      "Shipment update: parcel 7740 2210 9981 left the Leipzig hub at 04:12.",
      "let mac = HmacSha256::new_from_slice(key)?;",
  };
  for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++)
    assert_true(level_of(clean[i]) < SL_LEVEL_CONFIDENTIAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(email),       cmocka_unit_test(phone),      cmocka_unit_test(variants),
      cmocka_unit_test(card),
      cmocka_unit_test(iban_ssn),    cmocka_unit_test(ip),         cmocka_unit_test(dates),
      cmocka_unit_test(context_ids), cmocka_unit_test(crypto_url), cmocka_unit_test(negatives),
  };
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
