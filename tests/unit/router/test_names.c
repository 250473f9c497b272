/* Person names and street addresses: gazetteer plus context cues, vetoes. */
#include "router_test_util.h"

static void persons(void **s) {
  (void)s;
  EXPECT("Cassandra said the report is late.", "PERSON", "Cassandra");
  EXPECT("I'm staying at Jl. Kemang Raya No. 8, Jakarta Selatan until Sunday.", "STREET_ADDRESS", NULL);
  EXPECT("Claude from accounting sent the invoice, please forward it to the assistant manager", "PERSON",
         "Claude");
  /* a known given name's possessive in lower case, with a person's pronoun after it */
  EXPECT("hey can someone cover aisha's shift tmrw? she's got her chemo appt at 9", "PERSON", "aisha");
  EXPECT("I want to add Laila Hansen as a beneficiary", "PERSON", "Laila Hansen");
  /* surname first in capitals, as records print it; a household by its surname */
  EXPECT("Patient record: HANSEN, LAILA. Summarise her chart.", "PERSON", "HANSEN, LAILA");
  EXPECT("Kunde: M\xc3\x9cLLER, J\xc3\x9cRGEN", "PERSON", "M\xc3\x9cLLER, J\xc3\x9cRGEN");
  EXPECT("Attendees: SMITH, JOHN; DOE, JANE", "PERSON", "DOE, JANE");
  EXPECT("Davison family, table for six at 7:30.", "PERSON", "Davison");
  EXPECT("Reservation for the Kowalski family at 8pm.", "PERSON", "Kowalski");
  /* a given name in a town's name is no place alone ("San Antonio") */
  EXPECT("I met Antonio yesterday.", "PERSON", "Antonio");
  /* romanised Japanese surnames (chance's list) */
  EXPECT("the film also features kenji watanabe. a great cast", "PERSON", "kenji watanabe");
  EXPECT("lunch with kenji yamamoto on friday", "PERSON", "kenji yamamoto");
  /* "John" is a name, not the rare word john; "Doe" a surname */
  EXPECT("I spoke with John Doe yesterday", "PERSON", "John Doe");
  EXPECT("suspicious activity on John Doe's account", "PERSON", "John Doe");
  /* who shouted, at whom */
  EXPECT("Mei shouted at Aroha: \"What are you doing here?\"", "PERSON", "Aroha");
  EXPECT("Mei shouted at Aroha: \"What are you doing here?\"", "PERSON", "Mei");
  /* a well-known name with a cue is a person */
  EXPECT("my colleague Miguel de Cervantes Saavedra called", "PERSON", "Miguel de Cervantes Saavedra");
  /* a two-word particle inside a name */
  EXPECT("forward it to Jan van der Berg today", "PERSON", "Jan van der Berg");
  EXPECT("ask Pieter van den Broek", "PERSON", "Pieter van den Broek");
  /* a given name that is a place's too, before a particle and a known surname */
  EXPECT("Please send the contract to Jan de Vries before Friday.", "PERSON", "Jan de Vries");
  EXPECT("Jan de Groot called today.", "PERSON", "Jan de Groot");
  REJECT("We flew to Rio de Janeiro in May.", "PERSON");
  /* a Russian given name and a surname, in any case */
  EXPECT("Отправьте договор Ивану Петрову до пятницы.", "PERSON", "Ивану Петрову");
  EXPECT("Позвоните Ольге Шевченко.", "PERSON", "Ольге Шевченко");
  REJECT("Российская Федерация и Республика Беларусь.", "PERSON");
  REJECT("Встреча в Москве с Министерством Финансов.", "PERSON");
  /* a CJK or Korean name as a form's value */
  EXPECT("客户姓名: 李娜", "PERSON", "李娜");
  EXPECT("联系人：王芳，电话见附件", "PERSON", "王芳");
  EXPECT("성명: 김민준", "PERSON", "김민준");
  REJECT("患者：头痛三天", "PERSON");
  REJECT("名字：可以随便起吗", "PERSON");
  /* a name as a form's value in Cyrillic, Greek, Hebrew, Arabic */
  EXPECT("ФИО: Смирнов Алексей", "PERSON", "Смирнов Алексей");
  EXPECT("Όνομα: Γιώργος Παπαδόπουλος", "PERSON", "Γιώργος Παπαδόπουλος");
  EXPECT("שם: דוד כהן", "PERSON", "דוד כהן");
  EXPECT("الاسم: خالد", "PERSON", "خالد");
  REJECT("Имя: пользователь должен ввести имя", "PERSON");
  /* an Arabic given name and a family name with the article */
  EXPECT("أرسل العقد إلى محمد العلي قبل يوم الجمعة.", "PERSON", "محمد العلي");
  REJECT("نور الشمس قوي اليوم", "PERSON");
  REJECT("سأرسل الملف علي الفور", "PERSON");
  EXPECT("اتصل محمد علي أمس", "PERSON", "محمد علي");
  /* Vietnamese full names: family name, a common middle name, given names */
  EXPECT("Please send the contract to Nguyen Van An.", "PERSON", "Nguyen Van An");
  EXPECT("Pham Thi Lan is our new accountant.", "PERSON", "Pham Thi Lan");
  EXPECT("Nguy\xe1\xbb\x85n V\xc4\x83n An \xc4\x91\xc3\xa3 g\xe1\xbb\x8di.", "PERSON",
         "Nguy\xe1\xbb\x85n V\xc4\x83n An");
  REJECT("Ho Chi Minh City is the largest city.", "PERSON");
  /* an address block's first line */
  EXPECT("Yuki Tanaka\n\nMombasa\nPhilippines", "PERSON", "Yuki Tanaka");
  EXPECT("Tomasz Wr\xc3\xb3" "bel\nul. Lipowa 12\n00-950 Warszawa", "PERSON", "Tomasz Wr\xc3\xb3" "bel");
  /* the contracted pronoun is not the name's first word */
  EXPECT("Hi, I'm Sarah Connor and my phone is 555-867-5309", "PERSON", "Sarah Connor");
  EXPECT("Hi, I\xe2\x80\x99m Sarah Connor.", "PERSON", "Sarah Connor");
  /* a given name the lists know unaccented, with its accented capital; an
   * accent inside a word makes another word of it */
  EXPECT("\xc3\x89tienne Lef\xc3\xa8vre a appel\xc3\xa9.", "PERSON", "\xc3\x89tienne Lef\xc3\xa8vre");
  REJECT("\xc2\xbf" "En qu\xc3\xa9 a\xc3\xb1o lleg\xc3\xb3 Col\xc3\xb3n a Am\xc3\xa9rica?", "PERSON");
  /* German's polite pronouns and a letter's closing word open no name */
  REJECT("Vielen Dank f\xc3\xbcr Ihre Nachricht.", "PERSON");
  REJECT("Welcome to the Hilton Garden Inn. Breakfast is served at 7.", "PERSON");
  /* a label's value: a given name and a surname that are words too, or names no list knows */
  EXPECT("From: John Smith\nTo: HR", "PERSON", "John Smith");
  EXPECT("Reviewer: John Smith", "PERSON", "John Smith");
  EXPECT("From: Anneliese Brandt-Hoffmann\nSubject: leave", "PERSON", "Anneliese Brandt-Hoffmann");
  REJECT("commit 88cd4c3\nAuthor: build-bot\nDate:   Tue Apr 9 14:22:10 2024 +0000", "PERSON");
  REJECT("Status: Pending Review", "PERSON");
  /* the same in capitals: a given name and a surname, or a name and a word no list knows */
  EXPECT("Ticket 4471\nASSIGNED TO: JOHN SMITH", "PERSON", "JOHN SMITH");
  EXPECT("Referred by: MAGNUS \xc3\x98STERGAARD", "PERSON", "MAGNUS \xc3\x98STERGAARD");
  EXPECT("Passenger 1: MS ADAEZE NWANKWO", "PERSON", "ADAEZE NWANKWO");
  REJECT("Status: OPEN\nColour: ROSE GOLD\nMode: GRACE PERIOD\nTags: DEVOPS SRE", "PERSON");
  /* a given name that is a word too opens the sentence, then a surname and what people do */
  EXPECT("Rose Smith chaired the panel on housing.", "PERSON", "Rose Smith");
  EXPECT("Will Ashdown is leading the retrospective.", "PERSON", "Will Ashdown");
  EXPECT("Mark Oyelaran will review the pull request.", "PERSON", "Mark Oyelaran");
  REJECT("Rose Hill is a suburb of Sydney.", "PERSON");
  /* a surname, a comma and a given name, as records list them; not a place and
   * its state, or a sign-off */
  EXPECT("Smith, John - 3 open invoices, escalate", "PERSON", "Smith, John");
  EXPECT("Okonkwo, Chidi \xe2\x80\x94 overdue since March", "PERSON", "Okonkwo, Chidi");
  EXPECT("Groet, Femke", "PERSON", "Femke");
  REJECT("Jackson, Mississippi\nParis, France\nWarren, Michigan", "PERSON");
  /* (a greeting to John is one to a person: John is no common word) */
  EXPECT("Jackson, Mississippi\nHello, John\nWarren, Michigan", "PERSON", "John");
  REJECT("Grace Period has ended for the loan.", "PERSON");
  /* titles in other languages cue the surname after them */
  EXPECT("Bitte rufen Sie Herr Schubert morgen an.", "PERSON", "Schubert");
  EXPECT("Merci de contacter Mme Girard avant vendredi.", "PERSON", "Girard");
  EXPECT("Estimada Sra. García: le escribimos por su factura.", "PERSON", "García");
  EXPECT("Gentile Sig.ra Lombardi, la informiamo.", "PERSON", "Lombardi");
  /* a title alone is a salutation, a street's "Dr" no title, "Sig:" a prescription */
  REJECT("Objet : Commande\nMadame, Monsieur,\nNous vous confirmons la commande.", "PERSON");
  REJECT("8127 Kessler Blvd N Dr, Indianapolis, IN 46268", "PERSON");
  REJECT("Drug: Metformin 500 mg\nSig: Take 2 tablets by mouth", "PERSON");
  /* an academic title between the title and the name is neither */
  assert_false(found("An: Frau Mag. Theresa Gruber-Lechner", "PERSON", "Mag"));
  EXPECT("An: Frau Mag. Theresa Gruber-Lechner", "PERSON", "Theresa Gruber-Lechner");
  REJECT("Bitte senden Sie Ihre Unterlagen bis Freitag.", "PERSON");
  REJECT("Die Bestellung Nr. 4711 ist unterwegs.", "PERSON");
  EXPECT("Bitte rufen Sie Thomas Becker morgen an.", "PERSON", "Thomas Becker");
  EXPECT("Sie erreichen mich unter 0171 2345678, Gr\xc3\xbc\xc3\x9f" "e Jonas Hartmann", "PERSON",
         "Jonas Hartmann");
  /* a surname's particle after a given name; the same words in places are not */
  EXPECT("Hoi, ik ben Sanne de Vries, mijn BSN is 111222333", "PERSON", "Sanne de Vries");
  /* a title's initial, two given names and two surnames: all five words */
  EXPECT("El cliente D. Francisco Javier Ruiz Ortega solicita la baja.", "PERSON", "D. Francisco Javier Ruiz Ortega");
  EXPECT("Please ask Karl von Stein about it", "PERSON", "Karl von Stein");
  REJECT("We visited Rio de Janeiro last year", "PERSON");
  REJECT("Dame ideas para celebrar el D\xc3\xad" "a de Muertos en la oficina.", "PERSON");
  EXPECT("I would like to remove my kid Agi from the will.", "PERSON", "Agi");
  EXPECT("Kuba, can I please speak to your boss?", "PERSON", "Kuba");
  /* a surname the lists know only as one, at the start or after "spoke with" */
  EXPECT("Bakker said the delivery would be late again.", "PERSON", "Bakker");
  EXPECT("I spoke with Ngozi earlier and she agreed.", "PERSON", "Ngozi");
  EXPECT("Kristín Jónsdóttir (kennitala 120389-2349) has asked for her file.", "PERSON",
         "Kristín Jónsdóttir");
  EXPECT("Hijacinta Godina, the technical writer, said: \"I'm glad\"", "PERSON", "Hijacinta Godina");
  EXPECT("Torpy and Salinas were precision engineers.", "PERSON", "Salinas");
  /* the answer to a question for a holder's name, after the speaker's label */
  EXPECT("Bot: What's the name on the account? User: Eve Magrath", "PERSON", "Eve Magrath");
  /* a list after a word for people; a list of given names, one also a country */
  EXPECT("the brainchild of our 3 founders: Kónya, Becker and Vasquez.", "PERSON", "Vasquez");
  EXPECT("they had 6: silvana, adam, christopher, kristina, chad and caleb.", "PERSON", "kristina");
  EXPECT("RSVP — Amira & Lukas, 14 September", "PERSON", "Lukas");
  EXPECT("Buyer: Harriet & Joseph Nwachukwu", "PERSON", "Joseph Nwachukwu");
  EXPECT("Jennifer called me yesterday about the refund.", "PERSON", "Jennifer");
  EXPECT("Ask Priya about the invoice.", "PERSON", "Priya");
  EXPECT("leone mazzi\n\nnurse", "PERSON", "leone mazzi");
  EXPECT("Janka M. Szász\n\nAdministrator", "PERSON", "Janka M. Szász");
  EXPECT("written by J. R. Tolkien and others", "PERSON", "J. R. Tolkien");
  EXPECT("What's your last name? Arcuri", "PERSON", "Arcuri");
  EXPECT("my name is Shovda and I work here", "PERSON", "Shovda");
  EXPECT("Dear Sarah, thanks for the note.", "PERSON", "Sarah");
  EXPECT("Jane Doe's SSN was emailed", "PERSON", "Jane Doe");
  EXPECT("for Mr. Vikas Malhotra, including", "PERSON", "Vikas Malhotra");
  /* first names that are English words too, inside a sentence */
  EXPECT("I told John yesterday", "PERSON", "John");
  EXPECT("Send it to Mark before noon", "PERSON", "Mark");
  EXPECT("Tell Will the results", "PERSON", "Will");
  EXPECT("Ask John to call me back", "PERSON", "John");
  /* "I" is the pronoun, not an initial of the name before it */
  EXPECT("Tell Ahmed I will be late", "PERSON", "Ahmed");
  EXPECT("Ahmed I will be late", "PERSON", "Ahmed");
  EXPECT("Ahmed I. Khan signed", "PERSON", "Ahmed I. Khan");
  EXPECT("Kindly update the profile of Siobhan O'Brien", "PERSON", "Siobhan O'Brien");
  /* "name's", sign-offs (on the next line too), a name said to in lower case,
   * a first name that is an English word opening a sentence with what people do */
  EXPECT("name's Ngozi btw, nice to meet u", "PERSON", "Ngozi");
  EXPECT("Hi, my name\xe2\x80\x99s Tomasz and I need help", "PERSON", "Tomasz");
  EXPECT("rappelle-moi après 18h stp. Bises, Amélie", "PERSON", "Amélie");
  EXPECT("See you soon.\nCheers,\nOluwaseun", "PERSON", "Oluwaseun");
  EXPECT("lol just ask dmitri, he's got the keys to the van", "PERSON", "dmitri");
  EXPECT("Grace called twice this morning about the refund.", "PERSON", "Grace");
  /* form labels, "it's X", Japanese honorifics, the line after a signature's "--" */
  EXPECT("Cardholder: Siobhan O'Malley | Card: 3792 115631 65543", "PERSON", "Siobhan O'Malley");
  EXPECT("hey it's priya can u send the lease", "PERSON", "priya");
  EXPECT("Tanaka-san's mobile is 090-3412-8876", "PERSON", "Tanaka-san");
  EXPECT("Please ask Sato-sensei about it", "PERSON", "Sato-sensei");
  EXPECT("Merci.\n\n-- \nÉlodie Marchand\nResponsable achats", "PERSON", "Élodie Marchand");
  /* labels in other languages, billing labels, ALL-CAPS after a label */
  EXPECT("CURRÍCULO | Nome: Pietra Ferreira | Telefone: (11) 92721-5894", "PERSON", "Pietra Ferreira");
  EXPECT("Starter checklist | Forename(s): Dean | Surname: KENT", "PERSON", "Dean");
  EXPECT("Starter checklist | Forename(s): Dean | Surname: KENT", "PERSON", "KENT");
  EXPECT("Cardholder: KEVIN LYNCH | Card number: 3419 731871 44304", "PERSON", "KEVIN LYNCH");
  EXPECT("Passenger: WALKER/ERIK | Passport no.: 301432655", "PERSON", "WALKER/ERIK");
  EXPECT("Order #W7074235 | Bill to: Roger Brown, 425 Johnston tunnel", "PERSON", "Roger Brown");
  EXPECT("Account name: Tunde Okafor, Bank: Zenith Bank", "PERSON", "Tunde Okafor");
  EXPECT("hola! soy Óscar, la del piso de arriba", "PERSON", "Óscar");
  EXPECT("Prenotazione per 4 persone, a nome Mazza.", "PERSON", "Mazza");
  EXPECT("Tell Carolina the meeting moved to 3pm.", "PERSON", "Carolina");
  /* names the gazetteer lacks, told by the lexicon and the context: personal
   * data beside them, what people do, a possessive before a personal noun */
  EXPECT("Giorgos Papadakis, date of birth 5 April 1972, applied", "PERSON", "Giorgos Papadakis");
  EXPECT("Wei Zhang said the build is green", "PERSON", "Wei Zhang");
  EXPECT("Parisa Moradi's mobile is +98 912 481 3307.", "PERSON", "Parisa Moradi");
  EXPECT("Francesca Romano's Italian passport number is YA4829173.", "PERSON", "Francesca Romano");
  EXPECT("Delivery for Tariq Hussain: 58 Wilmslow Road, Flat 2, Manchester", "PERSON", "Tariq Hussain");
  EXPECT("Hello, this is Aroha, I need to change the delivery address", "PERSON", "Aroha");
  EXPECT("sarah, can you forward the slides to marcus before the call?", "PERSON", "sarah");
  EXPECT("sarah, can you forward the slides to marcus before the call?", "PERSON", "marcus");
  EXPECT("Member: Rodel Mendoza\nCategory: self-earning", "PERSON", "Rodel Mendoza");
  /* two capitalised words no English word, mid-sentence */
  EXPECT("Please forward the revised budget to Siobhan Gallagher before the meeting.", "PERSON",
         "Siobhan Gallagher");
  EXPECT("We hired Kiplagat Koech as the new field technician.", "PERSON", "Kiplagat Koech");
  /* one such word before what people do, or after a verb said to a person */
  EXPECT("Ji-hoon asked if we can push the release to next week.", "PERSON", "Ji-hoon");
  EXPECT("Ask Dimitra whether the Crete venue has wheelchair access.", "PERSON", "Dimitra");
  /* in lower case: a given name and a surname opening the text before what people do */
  EXPECT("sanjay mehta said he can't come in, can someone cover his shift?", "PERSON", "sanjay mehta");
  REJECT("the build server said it failed, can someone look?", "PERSON");
  REJECT("release notes said nothing about the fix", "PERSON");
  EXPECT("Surname: EZE | Given names: Babatunde | Date of birth: 17/01/2002", "PERSON", "Babatunde");
  /* airline style, the title after the name; a quoted value in data */
  EXPECT("SEQ NAME\n014  OYEWOLE/ADEBOLA MRS      12MAY1986   P A08847213", "PERSON", "OYEWOLE/ADEBOLA");
  EXPECT("{\"assignee\": \"Chinedu Okeke\", \"status\": \"in progress\"}", "PERSON", "Chinedu Okeke");
  EXPECT("Name: \"Anna Kowalczyk\"", "PERSON", "Anna Kowalczyk");
  /* a public figure's name after a cue, or someone the writer knows, stays a person */
  EXPECT("Name: Marie Curie, DOB 04/07/1990", "PERSON", "Marie Curie");
  EXPECT("Dear Marie Curie, your order has shipped", "PERSON", "Marie Curie");
  EXPECT("My colleague Dan Brown will join the call", "PERSON", "Dan Brown");
  /* two names that are also English words, inside a sentence; dict keys */
  EXPECT("Please ask John Smith today", "PERSON", "John Smith");
  EXPECT("{\"name\": \"John Smith\", \"x\": 1}", "PERSON", "John Smith");
  EXPECT("{\"first_name\": \"Ngozi\", \"last_name\": \"Eze\"}", "PERSON", "Ngozi");
  /* a name that opens a sentence, then what a person did */
  EXPECT("Chamari Wickramasinghe led the training for the new staff.", "PERSON", "Chamari Wickramasinghe");
  EXPECT("Lindiwe Dlamini-Mokoena presented the budget.", "PERSON", "Lindiwe Dlamini-Mokoena");
  EXPECT("Agent: Hello, you're speaking with Dawit. How can I help?", "PERSON", "Dawit");
  REJECT("My religion does not allow speaking to bots, they are evil", "PERSON"); /* a plural, no name */
  /* names the gazetteer lacks, told by their shape or their place in the sentence */
  EXPECT("the verses from Faina D. Yefremova's Cautionary Tales", "PERSON", "Faina D. Yefremova");
  EXPECT("Wisława Szczepańska's killers sentenced to life in prison", "PERSON", "Wisława Szczepańska");
  EXPECT("\"I'm glad to hear that this works,\" says Hartvigsson.", "PERSON", "Hartvigsson");
  EXPECT("Unlike the Christiansen novel, it's not about that.", "PERSON", "Christiansen");
  EXPECT("Usamov and Bowers were precision engineers.", "PERSON", "Bowers");
  EXPECT("Quionia is from Areavibes Inc", "PERSON", "Quionia");
  EXPECT("Warrane, can I please speak to your boss?", "PERSON", "Warrane");
  EXPECT("She named him Luís", "PERSON", "Luís");
  EXPECT("sometimes people call me višeslav", "PERSON", "višeslav");
  EXPECT("they had 6: leonti, terrence, pamela, donna, andrea and brian.", "PERSON", "pamela");
  EXPECT("they had 6: leonti, terrence, pamela, donna, andrea and brian.", "PERSON", "brian");
  EXPECT("\"I'm glad to hear that Germany is moving in that direction,\" says Iwase.", "PERSON", "Iwase");
  EXPECT("Unlike the Ásgeirsdóttir novel, it's not about that.", "PERSON", "Ásgeirsdóttir");
  /* who made a work, who left a band, whose kid; a town's name after "my name is";
   * a title that is a surname too */
  EXPECT("a 1973 comedy film directed by Brad L Key and starring Key", "PERSON", "Brad L Key");
  EXPECT("Mystery & Suspense | Directed By:    Arquímedes Ballesteros", "PERSON",
         "Arquímedes Ballesteros");
  EXPECT("This song by ex-Zombie Ogasahara is a perfect example", "PERSON", "Ogasahara");
  EXPECT("It was a done thing between him and Franciska's kid.", "PERSON", "Franciska");
  EXPECT("my name is vitoria", "PERSON", "vitoria");
  EXPECT("please change it to Ivan King", "PERSON", "Ivan King");
  EXPECT("Our guide, Hoang, showed us the hidden temple.", "PERSON", "Hoang");
  EXPECT("coffee is on me all next week.\n\nSigned,\nAyodele", "PERSON", "Ayodele");
  EXPECT("my tutor nino gelashvili says my essay needs more sources", "PERSON", "nino");
  /* a middle initial that is no ASCII letter; a work after a two-word name */
  EXPECT("Driving test confirmation\nCandidate: Séamus Ó Loingsigh\n", "PERSON", "Séamus Ó Loingsigh");
  EXPECT("The Halldór Ó Árnþórsson version recorded for Berkshire Hathaway", "PERSON",
         "Halldór Ó Árnþórsson");
  /* a word whose only lower-case letter is not ASCII is no acronym: "Ní" */
  EXPECT("have you heard Siobhán Ní Bhriain speak yet?", "PERSON", "Siobhán Ní Bhriain");
  /* a name the gazetteer has with a Latin-1 letter, lower case after a cue */
  EXPECT("it's under my partner's name ömer demir", "PERSON", "ömer demir");
  /* a run's length limit does not end it between a particle and the surname */
  EXPECT("Please ask Ana María Inés de la Fuente to sign", "PERSON", "Ana María Inés de la Fuente");
  /* speakers' labels in a lower-case transcript */
  EXPECT("dov: remember me?\nnikolai: you saved my life!", "PERSON", "nikolai");
  /* a given name that is a word too, spoken to at a sentence's start */
  EXPECT("Faith, can I please speak to your boss?", "PERSON", "Faith");
  EXPECT("Bill, please send the invoice today.", "PERSON", "Bill");
  /* given names of many origins (the gazetteer's third list) */
  EXPECT("According to Tuan, the translation memory is out of date.", "PERSON", "Tuan");
  EXPECT("Why is Saoirse so impulsive?", "PERSON", "Saoirse");
  /* what only a person is or has: a predicate, an attribute, a possessive's noun */
  EXPECT("Robin is a very sympathetic person. They are also good listeners.", "PERSON", "Robin");
  EXPECT("Why is Wanjiru so impulsive?", "PERSON", "Wanjiru");
  EXPECT("The true gender of Jae-won has been under debate for years", "PERSON", "Jae-won");
  EXPECT("Will Baker's killers sentenced to life in prison", "PERSON", "Will Baker");
  /* where a person is from, who said it, an address block's head: given names
   * and surnames that are words too, or no list's words */
  EXPECT("Thandiwe Dlamini from Halvorsen Logistics is the keynote speaker", "PERSON", "Thandiwe Dlamini");
  EXPECT("Rose Miller from Helix Biolabs is the keynote speaker", "PERSON", "Rose Miller");
  EXPECT("Paulo is from Tanaka Precision Works", "PERSON", "Paulo");
  EXPECT("Hope Bishop, the Line cook, said: \"I'm glad\"", "PERSON", "Hope Bishop");
  EXPECT("K. Venkatesh, the Radiographer, said: \"I'm glad\"", "PERSON", "K. Venkatesh");
  EXPECT("Faith Hunter\n\nBrno\nTurkey", "PERSON", "Faith Hunter");
  /* a job title with a comma of its own; surnames that are words too where
   * only a surname goes */
  EXPECT("Chidi Okafor, the Nurse, adult, said: \"I'm glad\"", "PERSON", "Chidi Okafor");
  EXPECT("Unlike the Berg novel, it's not about that.", "PERSON", "Berg");
  EXPECT("This song by ex-Zombie Marsh is a perfect example", "PERSON", "Marsh");
  EXPECT("\"I'm glad to hear that Cyprus is moving in that direction,\" says Banks.", "PERSON", "Banks");
  EXPECT("Mr King is a 88 year old man who grew up in Smithton.", "PERSON", "King");
  /* a name in capitals opening the text or a line, before lower-case words */
  EXPECT("DANIEL OKAFOR will be talking in the conference", "PERSON", "DANIEL OKAFOR");
  /* a name after a person's "name" (not a form's "your name", not a thing's) */
  EXPECT("Will my account stay active? It's under my partner's name Bodnár Martin", "PERSON",
         "Bodnár Martin");
  EXPECT("we need to add Lera Padberg Sr. as guardian", "PERSON", "Lera Padberg Sr"); /* Senior */
}

static void not_persons(void **s) {
  (void)s;
  /* (the possessive rule is for lower-case names only) */
  REJECT("Describe Elizabeth Bennet's character arc in Pride and Prejudice, and her wit.", "PERSON");
  /* code between a street type's abbreviation and a number; a schema's type; a station */
  REJECT("def coerce_decimal(v):\n    return Decimal(str(v)).quantize(Decimal(\"0.01\"))", "STREET_ADDRESS");
  REJECT("type Product { id: ID!, name: String!, variants: [Variant!]! }", "PERSON");
  REJECT("Outbound train 08:31 to Paris Nord, arriving 11:47", "PERSON");
  /* a tool named like a person, in a text about software */
  REJECT("You have 8+ years of Java, 5+ years of Kotlin, Cassandra and Kafka experience.", "PERSON");
  /* an assistant's name beside another assistant's */
  REJECT("Ask Claude or ChatGPT? I'm trying to decide which assistant to use.", "PERSON");
  REJECT("Is Alexa or Siri better for controlling Philips Hue lights?", "PERSON");
  /* a public figure with a Turkish case ending */
  REJECT("Mustafa Kemal Atatürk'ün harf devrimi neden 1928'de yapıldı?", "PERSON");
  REJECT("the iphone's battery died, he said", "PERSON");
  /* the tail of a timestamp is no house number; a company's seat in brackets no one's address */
  REJECT("2024-06-03T11:22:53.110Z INFO  circuit breaker inventory-svc -> HALF_OPEN", "STREET_ADDRESS");
  REJECT("Siemens AG (Werner-von-Siemens-Straße 1, 80333 Munich, Germany) today announced a deal.",
         "STREET_ADDRESS");
  EXPECT("Contact: Jane Roe (12 Elm Street, Springfield, IL 62704)", "STREET_ADDRESS", NULL);
  /* holidays and fairs in other languages */
  REJECT("\xc5\x9awi\xc4\x99to Niepodleg\xc5\x82o\xc5\x9b" "ci is a holiday in Warszawa.", "PERSON");
  REJECT("Dzie\xc5\x84 Matki is in May.", "PERSON");
  REJECT("Kurban Bayram\xc4\xb1 starts next week.", "PERSON");
  /* a well-known name as the list has it, more of the full name after it */
  REJECT("Resume este texto: Miguel de Cervantes Saavedra naci\xc3\xb3 en Alcal\xc3\xa1 en 1547.", "PERSON");
  /* stations, roads, trains; a month after a day's number and "de" */
  REJECT("Ile jedzie Pendolino z Warszawy Centralnej do Krakowa G\xc5\x82\xc3\xb3wnego?", "PERSON");
  REJECT("Kuryeler i\xc3\xa7in Tarlaba\xc5\x9f\xc4\xb1 Bulvar\xc4\xb1 a\xc3\xa7\xc4\xb1k.", "PERSON");
  REJECT("Ankara-\xc4\xb0stanbul Y\xc3\xbcksek H\xc4\xb1zl\xc4\xb1 Tren yolculu\xc4\x9fu", "PERSON");
  REJECT("Lembro-me do 25 de Abril e do 10 de Junho.", "PERSON");
  REJECT("The crowd shouted at the referee", "PERSON");
  /* places and firms written as "NAME, NAME"; a firm's Family; legal forms */
  REJECT("HOUSTON, TEXAS", "PERSON");
  REJECT("Quiero la factura a nombre de mi empresa, por favor.", "PERSON"); /* a possessive */
  REJECT("PARIS, FRANCE", "PERSON");
  /* a dotted legal form after the name's words: a firm, not a person */
  REJECT("La fattura di Rossi Impianti S.p.A. è arrivata.", "PERSON");
  REJECT("Yıldız Tekstil A.Ş. siparişi onayladı.", "PERSON");
  REJECT("Offerte van Meer Installatietechniek B.V. ontvangen.", "PERSON");
  EXPECT("Please call Maria S. Lopez tomorrow.", "PERSON", "Maria S. Lopez");
  REJECT("Lakeside Family Practice offers flu shots.", "PERSON");
  REJECT("Smith and Sons merged with Andersson Tmi.", "PERSON");
  REJECT("Will it rain in Florence on Saturday?", "PERSON");
  REJECT("What is the best time to visit Victoria in spring?", "PERSON");
  /* a predicate of people after a word used as an adjective, or about a place or a
   * thing; kin of a god */
  REJECT("I am a Chilean woman but I live in India.", "PERSON");
  REJECT("Jordan is a small country. Why is Kubernetes so popular?", "PERSON");
  REJECT("The son of Zeus was Heracles.", "PERSON");
  REJECT("Data Science from Scratch is a good book", "PERSON");
  REJECT("Unlike the White album, it is long", "PERSON");
  REJECT("I work for Smith, Johnson and Lee", "PERSON"); /* a firm named after its partners */
  REJECT("PROJECT UPDATE will follow. GRACE PERIOD ends today.", "PERSON");
  REJECT("Type your name Below and press Enter; the company's name Acme is trademarked", "PERSON");
  REJECT("I used to work for Nordlys Energi as Line cook, but quit", "PERSON"); /* a job's title */
  /* firms named after people, by their legal form or their "and"; a firm's
   * website; where a firm is; a place one returns to */
  REJECT("Celebrating its 10th year, Graham Brothers is a 501(c)3", "PERSON");
  REJECT("I work for Skov Film ApS, then Blomqvist Berggren HB, then Wijaya Tbk", "PERSON");
  REJECT("I work for Motchebon, Albert und Lauckner", "PERSON");
  REJECT("according to the Fredericia Fragt website", "PERSON");
  REJECT("Prinsen Combinatie is a design agency based in Ost Bryan.", "PERSON");
  REJECT("on the last Sunday we returned to Wangi Wangi by helicopter.", "PERSON");
  REJECT("the john is down the hall", "PERSON");
  REJECT("things will peter out", "PERSON");
  REJECT("the van der Waals force holds it", "PERSON");
  REJECT("Honey, can you grab milk on the way home?", "PERSON");
  REJECT("note: remember me?\nuser: you saved my life!", "PERSON");
  REJECT("dov: remember me?", "PERSON"); /* one label line is no transcript */
  /* a given name opening a sentence in another language */
  REJECT("Tính diện tích và chu vi hình tròn", "PERSON");
  /* a brand before its model's code; a Polish question word */
  REJECT("Aeris HX-400 Cordless Stick Vacuum - product sheet", "PERSON");
  REJECT("Jak napisa\xc4\x87 dobre CV po angielsku?", "PERSON");
  /* a block's head that is a firm or a heading, not a person */
  REJECT("Nordlys Energi\nTroms\xc3\xb8\nNorway", "PERSON");
  REJECT("Quarterly Report\n\nLondon\nUnited Kingdom", "PERSON");
  REJECT("Quintero Construcciones is a Korean multinational investment bank", "PERSON");
  REJECT("During 2017, Allstate Insurance Group invested heavily.", "PERSON");
  REJECT("The Princess Royal arrived at Khandallah this morning from New Zealand.", "PERSON");
  REJECT("Title VII of the Civil Rights Act of 2004 protects individuals.", "PERSON");
  REJECT("Happy Martin Luther King Day! See you at Christmas Eve.", "PERSON");
  /* eponyms and a question's verb before a place */
  REJECT("Explain the Monty Hall problem with a table of outcomes.", "PERSON");
  REJECT("What is the Nash equilibrium of this game?", "PERSON");
  REJECT("Can Vienna be visited in winter?", "PERSON");
  /* an instruction's verb opening the sentence is no part of a name */
  REJECT("Summarise Chopin's years in Paris.", "PERSON");
  EXPECT("Write Laila Hansen a thank-you note", "PERSON", "Laila Hansen");
  EXPECT("Is Maria Gonzalez still on the team?", "PERSON", "Maria Gonzalez");
  /* initials and a surname no list knows, opening a sentence, then what a person did */
  EXPECT("J. R. Okafor asked whether the renewal can wait.", "PERSON", "J. R. Okafor");
  EXPECT("K. Venkataraman from procurement rejected the PO.", "PERSON", "K. Venkataraman");
  REJECT("B. Kubernetes setup is described below.", "PERSON");
  /* lower-case given names in text with capitals: after a word pointing at a
   * person, or at a clause's start before what people do; not English words,
   * products, languages or a word after a determiner */
  EXPECT("Before the release I spoke with ngozi about the rollout.", "PERSON", "ngozi");
  EXPECT("The QA run is blocked, so wait for marek to sign off.", "PERSON", "marek");
  EXPECT("Adding cc nadia and kwame for the Q3 numbers.", "PERSON", "kwame");
  EXPECT("Please forward it to dragana by Friday.", "PERSON", "dragana");
  EXPECT("In the retro, and ingrid said the tests were flaky.", "PERSON", "ingrid");
  EXPECT("Got a text from oyelaran: the van is late.", "PERSON", "oyelaran");
  EXPECT("We must thank renata kowalczyk for the fix.", "PERSON", "renata kowalczyk");
  REJECT("Deploy it to prod with kubectl, then ask chatgpt what it said.", "PERSON");
  REJECT("Compare results from scipy with numpy, then send it to staging by friday.", "PERSON");
  REJECT("The tooltip says the Rockstar ninja dev wanted a raise.", "PERSON");
  REJECT("Port the service to rust with tokio and talk to the team.", "PERSON");
  REJECT("[deploy] waiting for rollout (timeout 300s)", "PERSON");
  /* a note signed after a dash at its end; not a list */
  EXPECT("Thanks for the update!\n\n\xe2\x80\x94 Mateusz", "PERSON", "Mateusz");
  EXPECT("Looks good to me.\n-- Ana Lima", "PERSON", "Ana Lima");
  REJECT("Results\n\xe2\x80\x94 Kubernetes", "PERSON");
  REJECT("Items:\n- Kubernetes\n- Docker", "PERSON");
  /* who to ask for */
  EXPECT("Mobile +234 803 555 0192, ask for Chukwuemeka", "PERSON", "Chukwuemeka");
  EXPECT("call reception and ask for Siobhan at the desk", "PERSON", "Siobhan");
  REJECT("ask for Kubernetes support in the channel", "PERSON");
  /* named after someone: methods, optimizers, a prover, Monte Carlo */
  REJECT("Use the Peaceman-Rachford ADI method with a tridiagonal (Thomas) solver.", "PERSON");
  REJECT("Solve the system with the Thomas algorithm.", "PERSON");
  REJECT("Train it with Adam on a small corpus until the gradient norm settles.", "PERSON");
  REJECT("Give the full Lean code, for a reader who knows mathematics but not Lean.", "PERSON");
  REJECT("Price the option by Monte Carlo in Python.", "PERSON");
  REJECT("What if the Maya civilization had never collapsed?", "PERSON");
  REJECT("The band stands in a rectangular formation named Formation $A$.", "PERSON");
  EXPECT("We adopted a girl named Maya last year.", "PERSON", "Maya");
  EXPECT("Adam called me about the gradient of the driveway.", "PERSON", "Adam");
  EXPECT("I had lunch with Adam yesterday.", "PERSON", "Adam");
  REJECT("We flew from Santa Clara to San Jose.", "PERSON");
  REJECT("A. Loud sounds\nB. Difficult subject", "PERSON");
  REJECT("What is the most common spoken language in the world?", "PERSON");
  REJECT("We moved here from Estonia", "PERSON");
  REJECT("the Bill was passed by the senate", "PERSON");
  REJECT("We planted a Rose garden", "PERSON");
  REJECT("Our product is written in Ruby and Go", "PERSON");
  REJECT("Please Mark the box as done", "PERSON");
  REJECT("Will you help me?", "PERSON");
  REJECT("The grace period ended", "PERSON");
  REJECT("the file name's extension is wrong", "PERSON");
  REJECT("Hello World!", "PERSON");
  REJECT("Thanks, Support", "PERSON");
  REJECT("just ask questions", "PERSON");
  REJECT("May called for rain", "PERSON");
  REJECT("Implement it in Go as `func Valid(s string) bool` with tests.", "PERSON");
  REJECT("this is a test of It's Python, not Java", "PERSON");
  REJECT("use a re-run here", "PERSON");
  REJECT("notes\n--\nRelease Notes\nmore", "PERSON");
  REJECT("I moved to Carolina last year", "PERSON");
  REJECT("name: README", "PERSON");
  REJECT("Name: ACME CORP", "PERSON");
  REJECT("      - name: Comment on PR\n        uses: actions/github-script@v7", "PERSON");
  REJECT("Imagine you are a tour guide in an ancient Roman city.", "PERSON");
  REJECT("We flew to Kuala Lumpur last year", "PERSON");
  REJECT("The account manager at Lumen Telecom said the outage was caused by a fiber cut.", "PERSON");
  REJECT("Customer Service said the parcel left on 4 June", "PERSON");
  REJECT("hello, this is support", "PERSON");
  REJECT("Google's email policy", "PERSON");
  REJECT("I want a Lua function for an OpenResty access phase", "PERSON");
  REJECT("- name: Publish\n  run: npm publish --access public", "PERSON");
  REJECT("The Kyoto branch of Sakura Trading reported a 12% rise in revenue.", "PERSON");
  REJECT("Rank these planets by diameter: Earth, Jupiter, Mars, Neptune, Venus.", "PERSON");
  REJECT("you've earned 1,250 points with Atlas & Ember Outfitters.", "PERSON");
  REJECT("Hurricane Ignatius weakened to a tropical depression after crossing Cuba.", "PERSON");
  REJECT("Storm Gwendolyn caused widespread power cuts across Wales.", "PERSON");
  REJECT("Our coordinator arrived in Addis Ababa yesterday.", "PERSON");
  REJECT("How do I call Uber from the airport?", "PERSON");
  REJECT("meine Bestellung Nr. 302 vom 4. Juni ist immer noch nicht angekommen, obwohl die "
         "Sendungsverfolgung seit einer Woche anzeigt", "PERSON");
  /* treaties, documents, eateries; a quoted title; a month after a day's number */
  REJECT("Summarise the differences between the Paris Agreement and the Kyoto Protocol.", "PERSON");
  REJECT("What was the significance of the Magna Carta?", "PERSON");
  REJECT("Warum ist die Berliner Mauer 1989 gefallen?", "PERSON");
  REJECT("Menu del giorno – Trattoria Il Cortile", "PERSON");
  REJECT("Name: Pizzeria\ngood prices, quiet place", "PERSON");
  REJECT("Spółdzielnia Mieszkaniowa „Zielone Wzgórze” informuje, że w dniach 4–6 marca", "PERSON");
  REJECT("Kadıköy şubemiz 1 Nisan itibarıyla yeni adresine taşınıyor.", "PERSON");
  REJECT("AC/DC MR BIG", "PERSON");
  /* well-known public figures without a cue, folded ("Simon Bolivar"); places */
  REJECT("Who was Marie Curie and what did she win Nobel Prizes for?", "PERSON");
  REJECT("Summarise the main arguments of Rachel Carson's 'Silent Spring'.", "PERSON");
  REJECT("Suggest books like 'Sapiens' by Yuval Noah Harari.", "PERSON");
  REJECT("¿Quién fue Simon Bolivar?", "PERSON");
  REJECT("Compare the leadership styles of Abraham Lincoln and Winston Churchill.", "PERSON");
  REJECT("Write a mystery set on a night train from Vienna to Venice.", "PERSON");
  /* well-known things named like people */
  REJECT("Give me tips for seeing the Mona Lisa at the Louvre without the crowds.", "PERSON");
  REJECT("Make a packing list for hiking the Inca Trail to Machu Picchu.", "PERSON");
  /* a bare "name" key names things too; a title in quotes that goes on; an
   * initial before an English word; units, landmarks, eateries, weekdays */
  REJECT("{'name': 'Prod', 'replicas': 3}", "PERSON");
  REJECT("{\"name\": \"Publish\", \"run\": \"npm publish\"}", "PERSON");
  REJECT("Summarise Martin Luther King Jr.'s 'I Have a Dream' speech.", "PERSON");
  REJECT("EPC rating C. Offers in the region", "PERSON");
  REJECT("Convert 72 °F to Celsius and Kelvin.", "PERSON");
  REJECT("Buatkan ringkasan tentang sejarah Candi Borobudur.", "PERSON");
  REJECT("Menu: Restaurante Sabor da Serra", "PERSON");
  REJECT("Wed 07:00 Pilates 50 | Thu 06:45 Spin 45", "PERSON");
  REJECT("Write three captions for a sunset photo at the Sydney Opera House.", "PERSON");
  REJECT("Roxy Cinema — This week | Dune: Part Two (12A) 14:10", "PERSON");
  REJECT("entre el puente de Isabel II y la plaza del Altozano", "PERSON");
  REJECT("Sat 14 Sep 15:00 Accrington Stanley v Tranmere Rovers | Crewe Alexandra v Barrow", "PERSON");
  REJECT("Mönchengladbach Hbf 06:22 | Neuss Hbf 06:35", "PERSON");
  REJECT("What was the Marshall Plan and how much money did it involve?", "PERSON");
  REJECT("Avis aux voyageurs | la station Châtelet sera fermée", "PERSON");
  REJECT("How deep is the Challenger Deep in the Mariana Trench?", "PERSON");
  REJECT("Schreib mir eine Zusammenfassung von Goethes „Faust I“ für die Prüfung.", "PERSON");
  REJECT("Menù del giorno | Primo: tagliatelle al ragù | Secondo: pollo alla cacciatora", "PERSON");
  /* a template's slots, ranges of days, well-known names after a particle, and
   * a word of a well-known name met again */
  REJECT("Dear [Customer Name], your order has shipped. Regards, [Store Name]", "PERSON");
  REJECT("Attn: {Hiring Manager}", "PERSON");
  EXPECT("To: [Anna Kowalski]", "PERSON", "Anna Kowalski");
  REJECT("The kitchen is closed Tue–Thu; use the one on 2 (Mon-Fri only)", "PERSON");
  REJECT("What were the main ideas in Simone de Beauvoir's 'The Second Sex'?", "PERSON");
  REJECT("Wer war Johann Wolfgang von Goethe?", "PERSON");
  REJECT("Which philosopher taught Alexander the Great?", "PERSON");
  REJECT("Who was Marie Curie, and what did Curie discover?", "PERSON");
  REJECT("Simone de Beauvoir wrote The Second Sex.", "PERSON");
  REJECT("Who was Sor Juana Inés de la Cruz, and what did she write?", "PERSON");
  /* towns after a saint or a fort, firms, a street's type */
  REJECT("We flew to San Antonio and then to St. Louis and Fort Collins.", "PERSON");
  REJECT("Johnson & Johnson and Procter & Gamble reported strong earnings.", "PERSON");
  REJECT("Thomas and Sons is a Brazilian investment bank.", "PERSON");
  REJECT("Dallas and Houston were hit by storms.", "PERSON");
  REJECT("Acme Widgets, the market leader, said profits rose.", "PERSON");
  REJECT("McDonald's and Wendy's both raised menu prices. Levi's 501 jeans are on sale.", "PERSON");
  REJECT("Our partners: Google, Microsoft and Amazon. Members: Finance, Legal and HR", "PERSON");
  REJECT("Do you know the name of the song? It is Yesterday", "PERSON");
  REJECT("rear-ended at a red light on 4th Ave and Pine", "PERSON");
  REJECT("Summarise Anna Karenina. Why does Anna leave?", "PERSON");
  REJECT("Compare the Toyota Prius and the Hyundai Ioniq hybrid", "PERSON");
  REJECT("the Final Act was signed nine days earlier", "PERSON");
  REJECT("Wed: sunny intervals | Thu: cloudy, 12°C", "PERSON");
  assert_false(found("Mr. Kwame Mensah-Bonsu, P.O. Box KN 1782, Accra", "PERSON", "P.O. Box"));
  REJECT("Quarterly Results presented a mixed picture.", "PERSON");
  REJECT("Deutsche Telekom reported losses in the third quarter.", "PERSON");
  REJECT("According to Reuters, prices rose.", "PERSON");
  REJECT("Take Vitamin B Complex daily", "PERSON");
  REJECT("Schreibe einen kurzen Aufsatz über Goethes Faust und die Frage nach Schuld.", "PERSON");
  REJECT("I have a secret called `db-creds` with keys `username` and `password`.", "PERSON");
  REJECT("Thanks, can you help?", "PERSON");
  REJECT("We sell apples, pears, plums and cherries.", "PERSON");
  REJECT("Describe the water cycle as if narrated by David Attenborough, in about 150 words.", "PERSON");
  REJECT("a film directed by Steven Spielberg", "PERSON");
  REJECT("a book edited by Oxford University Press", "PERSON");
  REJECT("the ex-Soviet Georgia", "PERSON");
  assert_false(found("diagnosed with early Alzheimer's, daughter Claire has LPA", "PERSON", "Alzheimer"));
  REJECT("Burger King is closed; King Charles visited", "PERSON");
  REJECT("my teacher said it was fine", "PERSON");
  REJECT("HTTP 429 after ~1200 requests/min; Retry-After says 37.", "PERSON");
  /* a firm named after its partners */
  REJECT("Lopez, Santos and Coleman is a design agency based in ESPOO.", "PERSON");
  REJECT("The Clark, Romero and Hall Orchestra was founded in 1973.", "PERSON");
  REJECT("À Paris, il fait beau.", "PERSON");
  /* a monarch's regnal number, even a lone I before a realm; institutions in other languages */
  REJECT("under Richard I of Normandy was forged into a principality", "PERSON");
  REJECT("le disposizioni del Parlamento Europeo", "PERSON");
  REJECT("según la normativa de la Agencia Tributaria", "PERSON");
  /* a name in capitals inside a sentence in mixed case; the maker after a label */
  EXPECT("as regular RR commenter DANIEL OKAFOR points out", "PERSON", "DANIEL OKAFOR");
  REJECT("we use JOHN DEERE tractors", "PERSON");
  REJECT("please read the README FILE now", "PERSON");
  EXPECT("Directed By:    R. J. Whitfield", "PERSON", "R. J. Whitfield");
  /* what code holds is no name: a variable joined to a literal or
   * interpolated, a type in a declaration, a key of a literal or a declaration */
  REJECT("writer.println(\"Patient Name: \"+pname);", "PERSON");
  REJECT("`Patient Name: ${patientName || 'Patient'}\\n` +", "PERSON");
  REJECT("public class Pawner {\n    private Long id;\n    private String name;\n}", "PERSON");
  REJECT("mustRedact := []string{\n\t\"swift: DEUTDEFF\",\n\t\"iban: DEUTDEFF\",\n}", "PERSON");
  REJECT("export type Dep = {\n  version: string;\n  dev: boolean;\n};", "PERSON");
  EXPECT("I met John + Mary today", "PERSON", "Mary");
  EXPECT("OBR|1|||Phan^Thanh Huong||19840317|F", "PERSON", "Thanh Huong");
  EXPECT("Conversation with sipho\n> sipho: the courier needs a gate code\n> sipho: its 4471#", "PERSON", "sipho");
  /* a text about the past only names history's people; a timetable's times are no years */
  REJECT("690 George Jessel\nConstituency : Dover 1868-73\nGeorge was the son of a coral merchant, born in 1824.",
         "PERSON");
  EXPECT("Our firm, founded in 1898, welcomes Jane Doe as partner in 2024.", "PERSON", "Jane Doe");
  EXPECT("PNR K7QZ2M 1.NAKAMURA/HARUTO MR\n3  NH 204 Y 12JUN 3 HNDFRA HK2  1155 1745", "PERSON", NULL);
  /* a name no list knows after a verb said to a person, in the past too */
  EXPECT("We asked Haruto for the keys but he had already left.", "PERSON", "Haruto");
  REJECT("we met Kubernetes folks at KubeCon", "PERSON");
  /* names in other scripts, by what is written beside them */
  EXPECT("佐藤花子さんに明日の会議について連絡してください。", "PERSON", NULL);
  EXPECT("请联系王先生", "PERSON", NULL);
  EXPECT("김민준 씨에게 전화하세요", "PERSON", "김민준");
  EXPECT("Передайте Ивану Петровичу Смирнову, что отчёт готов.", "PERSON", "Ивану Петровичу Смирнову");
  REJECT("皆さん、こんにちは。お客様へのお知らせです。", "PERSON");
  REJECT("고객님 감사합니다", "PERSON");
  /* introduced: a surname and given name after "I am called", a role, "my
   * name is"; a surname before a title; the humble "I am called" after one */
  EXPECT("我叫王伟，今年三十岁。", "PERSON", "王伟");
  EXPECT("我的名字是陈静。", "PERSON", "陈静");
  EXPECT("客户李娜的电话是多少？", "PERSON", "李娜");
  EXPECT("患者刘洋，男，45岁。", "PERSON", "刘洋");
  EXPECT("我叫欧阳娜娜。", "PERSON", "欧阳娜娜");
  EXPECT("张经理说项目延期了。", "PERSON", "张");
  EXPECT("私の名前は田中太郎です。", "PERSON", "田中太郎");
  EXPECT("山田と申します。よろしくお願いします。", "PERSON", "山田");
  EXPECT("제 이름은 박서연이에요.", "PERSON", "박서연");
  EXPECT("저는 김민준입니다.", "PERSON", "김민준");
  EXPECT("请帮我回复这位客户：张伟，要求更改收货地址。", "PERSON", "张伟");
  EXPECT("답변 작성: 김민준 고객님, 확인 부탁드립니다.", "PERSON", "김민준");
  EXPECT("환자 이서연, 고혈압 진단.", "PERSON", "이서연");
  REJECT("고객 정보를 업데이트해 주세요. 고객 서비스 센터에 문의하세요.", "PERSON");
  /* a role then a verb; a first given character that ends a name elsewhere
   * (小, 明); traditional characters; a verb of sending; "I am" with
   * punctuation after; a label that names a person, and the names listed
   * after it; a name before "라고 합니다"; an honorific after a space */
  EXPECT("租客徐佳琪反映卫生间漏水。", "PERSON", "徐佳琪");
  EXPECT("本人毛小龙，因个人原因申请辞职。", "PERSON", "毛小龙");
  EXPECT("房东高明辉说下个月涨房租。", "PERSON", "高明辉");
  EXPECT("各位鄰居好，我是7樓的住戶，請聯絡張雅婷。", "PERSON", "張雅婷");
  EXPECT("会议邀请发给胡婉婷和魏东就行。", "PERSON", "胡婉婷");
  EXPECT("我是李静，上周买的空调还没有安装。", "PERSON", "李静");
  EXPECT("参会人：邓凯、谢雨桐、曹明轩", "PERSON", "谢雨桐");
  EXPECT("乙方（承租方）：潘立新", "PERSON", "潘立新");
  EXPECT("곽도윤이라고 합니다. 지난주에 면접을 봤습니다.", "PERSON", "곽도윤");
  EXPECT("참석자: 정하늘, 조민호, 윤서아", "PERSON", "조민호");
  EXPECT("お届け先：中村大輔 様", "PERSON", "中村大輔");
  REJECT("我是程序员。通知周一开会。请联系方式。", "PERSON");
  REJECT("地址：张家界。品牌方：请查看。", "PERSON");
  REJECT("お疲れ様です。営業部です。", "PERSON");
  REJECT("대리님, 내일 보고서 제출 잊지 마세요.", "PERSON");
  REJECT("私は会社員です。私は大丈夫です。", "PERSON");
  /* a chat's speakers (two lines or more, not a form's field), a name before
   * "said" or a greeting at a clause's start, in quotes or brackets, after a
   * relation or "by"; Korean titles without 님; a Japanese relation's name
   * before a particle */
  EXPECT("群組對話：\n陳怡君：週六聚餐改到晚上七點喔\n劉冠廷：OK，我訂位", "PERSON", "劉冠廷");
  REJECT("规格：\n高度：10厘米\n金额：5元", "PERSON");
  EXPECT("요약해줘.\n이서연: 내일 회식 몇 시야?\n박지훈: 7시 강남역", "PERSON", "박지훈");
  REJECT("환자: 20대 여성\n주호소: 2일 전부터 발열\n처방: 해열제", "PERSON");
  EXPECT("今天周会，孙浩说测试环境周三才能恢复。", "PERSON", "孙浩");
  EXPECT("王志明您好，关于上周提到的报价。", "PERSON", "王志明");
  EXPECT("快递单上收件人写的是“宋佳”，但公司没这个人。", "PERSON", "宋佳");
  EXPECT("【赵俊】今晚谁值班？", "PERSON", "赵俊");
  EXPECT("我的工作从下周起交给彭子豪，有问题可以联系他。", "PERSON", "彭子豪");
  EXPECT("我表妹梁诗琪下个月结婚。", "PERSON", "梁诗琪");
  EXPECT("창고 담당 구자현 주임이 재고를 잘못 입력했어.", "PERSON", "구자현");
  EXPECT("先週、妹の千尋といっしょに京都へ行きました。", "PERSON", "千尋");
  REJECT("小说很好看，听说他说了。据说明天下雨。", "PERSON");
  /* a Korean name in Latin letters, its given name hyphenated; not a park's co-op */
  EXPECT("The manager Park Ji-hoon approved it.", "PERSON", "Park Ji-hoon");
  EXPECT("Claimant: Lee Seo-yeon", "PERSON", "Lee Seo-yeon");
  REJECT("We met at the Park Co-op and the Song Re-release party.", "PERSON");
  /* Japanese by a list of common surnames: before a title, as a chat's
   * speakers, listed after a label; not a department before a title */
  EXPECT("井上雅人課長から、見積書の提出を指示されました。", "PERSON", "井上雅人");
  EXPECT("社内チャット\n山口翔太：サーバーの再起動は何時から？\n石井美咲：22時からです。", "PERSON", "石井美咲");
  EXPECT("議事録\n出席者：加藤、吉田、山口\n欠席：松本", "PERSON", "吉田");
  EXPECT("シフト表：月：加藤、水：清水 亮。", "PERSON", "清水 亮");
  REJECT("営業部長に報告してください。\n出席者：営業部3名、開発部2名\n金額：12,800円", "PERSON");
  /* the same cues before words: customer relations, grades, patient safety,
   * project manager, Chinese teacher, a company's name, "I am Korean", a
   * flower's name */
  REJECT("客户关系管理系统很重要。", "PERSON");
  REJECT("学生成绩单已经发布。", "PERSON");
  REJECT("患者安全是第一位的。", "PERSON");
  REJECT("我们的项目经理很忙，她的中文老师来自北京。", "PERSON");
  REJECT("会社の名前は山田商事です。", "PERSON");
  REJECT("저는 한국인입니다. 저는 선생님입니다.", "PERSON");
  REJECT("이 꽃의 이름은 장미입니다.", "PERSON");
  REJECT("他叫车去机场了。", "PERSON");
  EXPECT("أرجو إرسال الفاتورة إلى السيد خالد العتيبي على الرقم", "PERSON", "خالد العتيبي");
  EXPECT("मेरा नाम अर्जुन मेहता है और मेरा ईमेल", "PERSON", "अर्जुन मेहता");
  REJECT("नाम बदलना है", "PERSON");
  /* a surname alone opening a sentence, what the person did, the person's
   * pronoun after; not a definition, not a city */
  EXPECT("Weber hat gestern gekündigt. Bitte berechne seinen Resturlaub.", "PERSON", "Weber");
  EXPECT("Conti ha chiesto le ferie dal 5 al 16 agosto. Il suo IBAN è nel file.", "PERSON", "Conti");
  EXPECT("Lindgren har sagt upp sig. Betala ut slutlönen till hans konto.", "PERSON", "Lindgren");
  REJECT("Weber ist die SI-Einheit des magnetischen Flusses. Seine Definition folgt.", "PERSON");
  REJECT("Berlin hat viele Museen. Sein Nachtleben ist bekannt.", "PERSON");
  /* a translation's word; a sovereign after the title */
  REJECT("The Normans (Norman: Nourmands; French: Normands; Latin: Normanni) were", "PERSON");
  REJECT("served under the Anglo-Norman king Richard the Lion-Heart.", "PERSON");
}

static void addresses(void **s) {
  (void)s;
  /* Russian and Ukrainian: a street's word, its name, the house ("д.", "буд.") */
  EXPECT("\xd0\x9f\xd1\x80\xd0\xbe\xd0\xb6\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xb5\xd1\x82 \xd1\x83\xd0\xbb. \xd0\x9f\xd1\x83\xd1\x88\xd0\xba\xd0\xb8\xd0\xbd\xd0\xb0, \xd0\xb4. 17, \xd0\xba\xd0\xb2. 45",
         "STREET_ADDRESS", "\xd1\x83\xd0\xbb. \xd0\x9f\xd1\x83\xd1\x88\xd0\xba\xd0\xb8\xd0\xbd\xd0\xb0, \xd0\xb4. 17, \xd0\xba\xd0\xb2. 45");
  EXPECT("\xd0\xbc. \xd0\x9a\xd0\xb8\xd1\x97\xd0\xb2, \xd0\xb2\xd1\x83\xd0\xbb. \xd0\xa5\xd1\x80\xd0\xb5\xd1\x89\xd0\xb0\xd1\x82\xd0\xb8\xd0\xba, \xd0\xb1\xd1\x83\xd0\xb4. 22",
         "STREET_ADDRESS", "\xd0\xb2\xd1\x83\xd0\xbb. \xd0\xa5\xd1\x80\xd0\xb5\xd1\x89\xd0\xb0\xd1\x82\xd0\xb8\xd0\xba, \xd0\xb1\xd1\x83\xd0\xb4. 22");
  /* the word for a street in a sentence, no house: no one's address */
  REJECT("\xd0\xad\xd1\x82\xd0\xb0 \xd1\x83\xd0\xbb\xd0\xb8\xd1\x86\xd0\xb0 \xd0\xb4\xd0\xbb\xd0\xb8\xd0\xbd\xd0\xbd\xd0\xb0\xd1\x8f, \xd0\xb4\xd0\xbe\xd0\xbc \xd1\x81\xd1\x82\xd0\xbe\xd0\xb8\xd1\x82.", "STREET_ADDRESS");
  EXPECT("Address:\n87645 22 Talga Court Apt. 331\nKaster", "STREET_ADDRESS", NULL);
  /* the type in lower case, as Hungarian and Estonian write it */
  EXPECT("Send it to Mr. Viktor Horváth, Andrássy út 41, 1061 Budapest", "STREET_ADDRESS",
         "Andrássy út 41, 1061 Budapest");
  EXPECT("pedestrians must enter on hegyalja út 98. st. the first three months", "STREET_ADDRESS",
         "hegyalja út 98");
  REJECT("auf dem weg 5 mal", "STREET_ADDRESS");
  /* a number, a street of any name, then a unit on the next line or after a comma */
  EXPECT("14 Peachtree\n Apt. 392\n Lyon\n Norway 62704", "STREET_ADDRESS", "14 Peachtree\n Apt. 392");
  EXPECT("Send it to 3 Marszałkowska, Floor 3 please", "STREET_ADDRESS", "3 Marszałkowska, Floor 3");
  REJECT("Chapter 3 Introduction\nUnit 4 Review", "STREET_ADDRESS");
  REJECT("I have 3 Kids, Apt 4 is ours", "STREET_ADDRESS");
  /* streets named without a number where the text says a place follows */
  EXPECT("Pedestrians must enter on Kurfürstendamm St. the first three months", "STREET_ADDRESS", "Kurfürstendamm St");
  EXPECT("Ask the driver to stop at the corner of Jalan Sultan Ismail St. and Elm St.", "STREET_ADDRESS",
         "Jalan Sultan Ismail St");
  EXPECT("The bus station is on Mannerheimintie", "STREET_ADDRESS", "Mannerheimintie");
  EXPECT("He lives on the north side of Kurfürstendamm.", "STREET_ADDRESS", "Kurfürstendamm");
  EXPECT("He lives on Oak Hollow street", "STREET_ADDRESS", "Oak Hollow street");
  /* a street in directions is no one's address; a corner still names a place */
  REJECT("Turn left onto Main Street, then continue for two blocks.", "STREET_ADDRESS");
  REJECT("Head north on Elm Road until the bridge.", "STREET_ADDRESS");
  EXPECT("Meet me at the corner of Oxford Street and Regent Street", "STREET_ADDRESS", "Oxford Street");
  REJECT("What happened on Wall Street in 1929?", "STREET_ADDRESS");
  REJECT("I saved the draft on Google Drive", "STREET_ADDRESS");
  REJECT("We walked down Memory Lane", "STREET_ADDRESS");
  REJECT("Street food on Saturday is the best", "STREET_ADDRESS");
  EXPECT("Meet me at 34151 Nybyvägen 65 Apt. 392\nGarður", "STREET_ADDRESS", "34151 Nybyvägen 65 Apt. 392");
  EXPECT("his address: 5049 Harjukuja 54, SEINÄJOKI", "STREET_ADDRESS", "5049 Harjukuja 54, SEINÄJOKI");
  /* labels anywhere, in JSON and other languages; where someone lives */
  EXPECT("{\"address\": \"Apt 3, 22 Sráid an Mhuilinn, Gaillimh, H91 X2P4\"}", "STREET_ADDRESS",
         "Apt 3, 22 Sráid an Mhuilinn, Gaillimh, H91 X2P4");
  EXPECT("Anschrift: Am Hang 3a, 79102 Freiburg", "STREET_ADDRESS", "Am Hang 3a, 79102 Freiburg");
  EXPECT("Adresse actuelle : 8 bis rue des Tanneurs, appt 12, 67000 Strasbourg", "STREET_ADDRESS",
         "8 bis rue des Tanneurs, appt 12, 67000 Strasbourg");
  EXPECT("wohnhaft in der Berliner Straße 12, 10115 Berlin", "STREET_ADDRESS",
         "Berliner Straße 12, 10115 Berlin");
  /* a label's address later in the text leaves the ones before it alone */
  EXPECT("Ship to 12 Main Street today.\nAddress: 5 Elm Road, Leeds", "STREET_ADDRESS", "12 Main Street");
  EXPECT("Ship to 12 Main Street today.\nAddress: 5 Elm Road, Leeds", "STREET_ADDRESS", "5 Elm Road, Leeds");
  /* another label on the line ends a label's address; a unit's does not */
  EXPECT("Wohnhaft: Lindenstraße 42, 50674 Köln — Name: Jürgen Obermeier", "PERSON", "Jürgen Obermeier");
  EXPECT("Address: 31 Gladstone Terrace, Gateshead NE8 4DY   Tel: 07392 118 640", "STREET_ADDRESS",
         "31 Gladstone Terrace, Gateshead NE8 4DY");
  /* numbered streets, directions (with or without a full stop) */
  EXPECT("sent to 701 W 7th Ave #210, Anchorage AK 99501?", "STREET_ADDRESS",
         "701 W 7th Ave #210, Anchorage AK 99501");
  EXPECT("Send it to 701 W. Main St", "STREET_ADDRESS", "701 W. Main St");
  EXPECT("Send it to 42 5th Avenue", "STREET_ADDRESS", "42 5th Avenue");
  REJECT("We won 3 1st place trophies", "STREET_ADDRESS");
  /* a number sign between the type and the number; Colombia's placa */
  EXPECT("Moda Sokak No 7, Kadıköy", "STREET_ADDRESS", "Moda Sokak No 7");
  EXPECT("Ship to Bağdat Cad. No:12 D:4 Kadıköy", "STREET_ADDRESS", "Bağdat Cad. No:12");
  REJECT("Buy the Greatest Hits CD 2", "STREET_ADDRESS");
  EXPECT("sent to Carrera 7 # 71-21, Apartamento 502, Bogotá", "STREET_ADDRESS",
         "Carrera 7 # 71-21, Apartamento 502");
  EXPECT("Cra. 7A No. 71-21", "STREET_ADDRESS", "Cra. 7A No. 71-21");
  REJECT("Item 3 # 4-5 of the list", "STREET_ADDRESS");
  /* parts, a town and its postcode (India's, or after a street type); the
   * address found before takes in its town, a person's name stays one */
  EXPECT("Flat No. 203, Sai Apartments, MG Road, Bengaluru 560001", "STREET_ADDRESS",
         "Flat No. 203, Sai Apartments, MG Road, Bengaluru 560001");
  EXPECT("I stay at MG Road, Bengaluru 560001", "STREET_ADDRESS", "MG Road, Bengaluru 560001");
  EXPECT("moved to 2204 Fairmount Ave, Philadelphia, PA 19130 last month", "STREET_ADDRESS",
         "2204 Fairmount Ave, Philadelphia, PA 19130");
  EXPECT("Sender: Ananya Krishnan, 12/3 Lake View Road, Kodambakkam, Chennai 600024, India", "PERSON",
         "Ananya Krishnan");
  REJECT("Q3 revenue: North, South, West 450000", "STREET_ADDRESS");
  /* numbers around a word no one writes as a street's name */
  REJECT(";; The prime factors of 13195 are 5, 7, 13 and 29.\n;;\n;; What is the largest prime factor?",
         "STREET_ADDRESS");
  REJECT("3 d 9\nW 6857", "STREET_ADDRESS");
  REJECT("Sold to Alpha, Beta, Gamma 45000 units", "STREET_ADDRESS");
  /* Japanese and Korean addresses by their parts' suffixes */
  EXPECT("'大阪府富津市細野33丁目16番13号 皇居外苑シャルム938'", "STREET_ADDRESS", "大阪府富津市細野33丁目16番13号");
  EXPECT("住所：東京都渋谷区神南1-19-11", "STREET_ADDRESS", "東京都渋谷区神南1-19-11");
  EXPECT("'대구광역시 도봉구 학동거리 104-46 (정수윤김마을)'", "STREET_ADDRESS", "대구광역시 도봉구 학동거리 104-46");
  EXPECT("주소: 서울특별시 마포구 월드컵북로12길 34", "STREET_ADDRESS", "서울특별시 마포구 월드컵북로12길 34");
  REJECT("東京都は日本の首都です。人口は1400万人です。", "STREET_ADDRESS");
  EXPECT("收货地址: 广东省深圳市南山区科技园南路15号3栋502", "STREET_ADDRESS", NULL);
  EXPECT("我的地址是上海市徐汇区漕溪北路88号", "STREET_ADDRESS", NULL);
  REJECT("这条路有3号线经过", "STREET_ADDRESS");
  /* name, type as a word, number */
  EXPECT("Das Büro ist in der Berliner Straße 12.", "STREET_ADDRESS", "Berliner Straße 12");
  EXPECT("Ich wohne Lange Gasse 5 in Wien", "STREET_ADDRESS", "Lange Gasse 5");
  EXPECT("at 654 Rua Ana Caciola 1159, Cyprus", "STREET_ADDRESS", "654 Rua Ana Caciola 1159");
  EXPECT("The restaurant is located at PSC 9009, Box 9725\nAPO AA 33274.", "STREET_ADDRESS", "PSC 9009, Box 9725");
  EXPECT("The restaurant is located at PSC 9009, Box 9725\nAPO AA 33274.", "STREET_ADDRESS", "APO AA 33274");
  EXPECT("Meet me at P.O. Box 149 Monika Union", "STREET_ADDRESS", "P.O. Box 149");
  /* rural routes and highway contracts */
  EXPECT("Deliver to RR 2 Box 147, Hollister, MO 65672 by noon", "STREET_ADDRESS",
         "RR 2 Box 147, Hollister, MO 65672");
  EXPECT("Send it to HC 61 Box 20, Ely NV", "STREET_ADDRESS", "HC 61 Box 20");
  REJECT("Take Route 9 to the box office at 7", "STREET_ADDRESS");
  EXPECT("Send it to Unit 5, 12 High St, Leeds", "STREET_ADDRESS", "Unit 5, 12 High St");
  EXPECT("ul. Marszałkowska 10, Warszawa", "STREET_ADDRESS", NULL);
  EXPECT("Hauptstraße 5, 10115 Berlin", "STREET_ADDRESS", "Hauptstraße 5, 10115 Berlin");
  REJECT("What caused the 1929 Wall Street Crash?", "STREET_ADDRESS");
  /* after a label: no e-mail, URL, IP address or lower-case instruction */
  REJECT("Web address: www.site1.com", "STREET_ADDRESS");
  REJECT("What is the address: 127.0.0.1 port 8080?", "STREET_ADDRESS");
  REJECT("Add your address: line 1 and city.", "STREET_ADDRESS");
  REJECT("Billing address: same as shipping", "STREET_ADDRESS");
  REJECT("Die Gate 7 schließt.", "STREET_ADDRESS");
  REJECT("Wed 07:00 Pilates 50 | 18:30 Strength Circuit 55", "STREET_ADDRESS");
  REJECT("stall list\n1 Hollybrook Orchard (apples, cider)\n2 Green Acre Dairy\n5 Marsh Lane Mushrooms\n6 Riverbend Trout",
         "STREET_ADDRESS");
  REJECT("I have 3 big dogs and 2 cats.", "STREET_ADDRESS");
  REJECT("Put 2 boxes in the hall", "STREET_ADDRESS");
  /* an ALL-CAPS "OS" is no "os." (osiedle); "covering" is no "-ring" street */
  REJECT("After the update winver shows OS build 10.0.22631.3447.", "STREET_ADDRESS");
  REJECT("A train leaves at 14:35, covering 387 km by 19:05.", "STREET_ADDRESS");
  EXPECT("to Mr. Kwame Mensah-Bonsu, P.O. Box KN 1782, Kaneshie, Accra", "STREET_ADDRESS", "P.O. Box KN 1782");
  REJECT("put it in box AB 12", "STREET_ADDRESS");
  EXPECT("Home address: Plot 69, Awolowo Road, Ikoyi, Lagos", "STREET_ADDRESS", "Plot 69, Awolowo Road, Ikoyi, Lagos");
  REJECT("EXPERIENCE\n2016–2020  Software Engineer, Helix Bank, Frankfurt", "STREET_ADDRESS");
  REJECT("HTTP/1.1 502 Bad Gateway\nRetry-After: 30", "STREET_ADDRESS");
  /* an English word is no fused street name; a table's columns no address */
  REJECT("Department   Headcount\nEngineering  184        22", "STREET_ADDRESS");
  EXPECT("Kaiserring 12, 10115 Berlin", "STREET_ADDRESS", "Kaiserring 12, 10115 Berlin");
  REJECT("Jueves: Farmacia Avenida del Puerto (24 h) | Sábado: cerrada", "STREET_ADDRESS");
  REJECT("Yellow warning for wind in place Tuesday 06:00–18:00", "STREET_ADDRESS");
  /* a street of any language: a unit after its number, the city and postcode
   * lines after it, its type after the number, or where a place is said to be */
  EXPECT("The address of Peerj is 9721 Dalmatinova 43 Apt. 678 Velenje", "STREET_ADDRESS",
         "9721 Dalmatinova 43 Apt. 678");
  EXPECT("28030 Edeby 55\n Apt. 297\n TYSTBERGA\n Sweden 99178", "STREET_ADDRESS", NULL);
  EXPECT("How do I change my address to 50541 Mlýnská 1540\n Trancoso\n , GU\n Portugal 44674?",
         "STREET_ADDRESS", "50541 Mlýnská 1540");
  EXPECT("The bus drops you off at 077 Příční 1429 St.", "STREET_ADDRESS", "077 Příční 1429 St");
  EXPECT("The bus station is on Pod Floriánem 1677", "STREET_ADDRESS", "Pod Floriánem 1677");
  REJECT("is on Pod 9", "STREET_ADDRESS"); /* the walk back stops at the first token */
  REJECT("Lesson 4 Unit 2 covers fractions", "STREET_ADDRESS");
  /* a street's type written first, and a house number before a name no list
   * knows, where the text says a place follows */
  EXPECT("The bus station is on Calle Mayor", "STREET_ADDRESS", "Calle Mayor");
  EXPECT("Pedestrians must enter on Rue de la Roquette the first months", "STREET_ADDRESS",
         "Rue de la Roquette");
  EXPECT("He lives on the north side of Wilmslow Road.", "STREET_ADDRESS", "Wilmslow Road");
  EXPECT("The restaurant is at 47 Marszałkowska", "STREET_ADDRESS", "47 Marszałkowska");
  REJECT("Send it via Slack, the meeting is at 3 PM", "STREET_ADDRESS");
  REJECT("I read it on Place Vendome", "STREET_ADDRESS");
  /* any street type after a given name or a surname (Faker's "Monika Union") */
  EXPECT("The bus station is on Monika Union", "STREET_ADDRESS", "Monika Union");
  EXPECT("Pedestrians must enter on Monika Union St. the first months", "STREET_ADDRESS", "Monika Union St");
  REJECT("The hotel is on Long Island and my file is on Google Drive", "STREET_ADDRESS");
  /* a street's name and number, then the postcode and the town, with no type
   * the lists know (most of Europe); not a version or a year after a name */
  EXPECT("How do I change my address to Mulderdijk 213a 3 hoog, 6720 IJ Herkhoven for post mail?",
         "STREET_ADDRESS", "Mulderdijk 213a 3 hoog, 6720 IJ Herkhoven");
  EXPECT("Please return to Banatska 52 Sprat 6, 24958 Leskovac in case of an issue.", "STREET_ADDRESS",
         "Banatska 52 Sprat 6, 24958 Leskovac");
  EXPECT("I'd like a taxi to bulw. Zaborowski 68b m. 306\nBytom\n19-778. Please call me", "STREET_ADDRESS",
         "Zaborowski 68b m. 306\nBytom\n19-778");
  EXPECT("User: Rudbāržu bulvāris 15 dz. 555, LV9726 Ķegums", "STREET_ADDRESS",
         "Rudbāržu bulvāris 15 dz. 555, LV9726 Ķegums");
  EXPECT("Hotel booking for Calle de Alcalá 42, 3º izquierda, 28014 Madrid. Translate it.", "STREET_ADDRESS",
         "Calle de Alcalá 42, 3º izquierda, 28014 Madrid");
  REJECT("Kubernetes 1.29, 2024 Roadmap; See Table 5, 2021 Results; Iteration 3, 2000 Euros", "STREET_ADDRESS");
  /* a particle between the name's words, and a preposition before it */
  EXPECT("Send it to An der Alster 45, 20099 Hamburg.", "STREET_ADDRESS", "An der Alster 45, 20099 Hamburg");
  /* a keyword argument naming a person's name, with a literal; not a type */
  EXPECT("user = User(first_name=\"Ngozi\", last_name=\"Okonjo\")", "PERSON", "Okonjo");
  REJECT("first_name: Optional[str] = None", "PERSON");
  /* a postcode in two groups of three and two digits (Greece, Sweden, Czechia) */
  EXPECT("Ship to Ermou 25, 105 63 Athens, Greece", "STREET_ADDRESS", "Ermou 25, 105 63 Athens");
  REJECT("Kubernetes 1.29, 105 12 Nodes", "STREET_ADDRESS");
  REJECT("Send it to An der Alster 45, 20099 Hamburg.", "PERSON");
  EXPECT("Emisora: Lucía Ferrer\nCarrer de Provença 281, 4t 2a, 08037 Barcelona", "STREET_ADDRESS",
         "Carrer de Provença 281, 4t 2a, 08037 Barcelona");
  /* a particle inside a typed street's name; a type written first */
  EXPECT("Ask the driver to stop at the corner of Avenue du Havre St. and Elm St.", "STREET_ADDRESS",
         "Avenue du Havre St");
  REJECT("Times are approximate during roadworks on Bridge Street.", "STREET_ADDRESS");
  /* a name alone where someone lives, no English word and no town */
  EXPECT("He lives on the north side of Komárnická.", "STREET_ADDRESS", "Komárnická");
  REJECT("He lives on the north side of Chicago. She lives on the sunny side of life.", "STREET_ADDRESS");
  /* a number, a name of any language and a unit that says "address" by itself */
  EXPECT("validate the following? 31 Passage Joubert Apt. 408, 33588 Avignon", "STREET_ADDRESS",
         "31 Passage Joubert Apt. 408");
  REJECT("I have 3 Kids Apt 4", "STREET_ADDRESS");
  /* streets named by an adjective (Czech, Slovak, Croatian), Finnish and Norwegian endings */
  EXPECT("The package should go to Vinohradská 1511/230, 100 00 Praha 10.", "STREET_ADDRESS", NULL);
  EXPECT("The bus station is on Ivanovačka", "STREET_ADDRESS", "Ivanovačka");
  EXPECT("send it to Isaksvei 4, 6595 Smesjøen", "STREET_ADDRESS", "Isaksvei 4, 6595 Smesjøen");
  REJECT("Policy update: starting 02/18/2024, Northgate Building Society will reimburse", "STREET_ADDRESS");
  REJECT("The meeting is at Room 5 today, the answer is on Page 12", "STREET_ADDRESS");
  REJECT("Request ID f5996918 failed with 502 Bad Gateway at the edge", "STREET_ADDRESS");
  REJECT("GREEN MAN FESTIVAL, 15–18 August 2024\nWeekend camping ticket, ref GM24-118203", "STREET_ADDRESS");
  REJECT("The water will be shut off on Tuesday 9 April between 09:00 and 13:00", "STREET_ADDRESS");
}

/* The public-figures list is compared folded: case, Latin diacritics, dots,
 * runs of spaces, typographic apostrophes. */
static void figures_folded(void **s) {
  (void)s;
  assert_true(sl__figure_has("Marie Curie", 11));
  assert_true(sl__figure_has("MARIE  CURIE", 12));
  assert_true(sl__figure_has("Mărie Cúrie", 13)); /* a diacritic on a name listed without */
  assert_true(sl__figure_has("Martin Luther King Jr", 21));
  assert_false(sl__figure_has("Marie Curies", 12));
  assert_false(sl__figure_has("Marie", 5));
  assert_false(sl__figure_has("", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(persons), cmocka_unit_test(figures_folded), cmocka_unit_test(not_persons), cmocka_unit_test(addresses)};
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
