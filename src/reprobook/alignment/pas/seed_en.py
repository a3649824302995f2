"""An English rendering of PAS's 63 seed pairs (``ape_seed.jsonl``), for the smoke profile's English models.

Explained in `notebooks/alignment/pas.ipynb`.

The official seed data is Chinese; the smoke profile's answering and generating models (SmolLM2-135M,
Gemma-3-270M) write English far better than Chinese. Each row below renders one seed pair with the same
category; within a category the rows follow the file's order (the k-th row of a category renders the
file's k-th pair of that category: :func:`reprobook.alignment.pas.data.parallel_seed`). Prompts are
shortened where the original is a long pasted text; complementary prompts stay close to the original's
guidance (how to organise the reply, what to cover, what to watch for). Because the rows are parallel
to the Chinese ones, they also serve as a labelled English slice for the category classifier: trained
on the Chinese prompts, tested on the English ones.
"""

from __future__ import annotations

# (category, prompt, complementary prompt); within a category in the order of ape_seed.jsonl
ENGLISH_SEED: tuple[tuple[str, str, str], ...] = (
    (
        "openqa",
        "What philosophical ideas can we take from Zhuangzi's 'Free and Easy Wandering'?",
        "Discuss the philosophy of the text; you may add how it criticises the real world and what it means today. "
        "Keep the structure clear and combine theory with examples.",
    ),
    (
        "openqa",
        "My manager said my work is going well. How should I reply?",
        "Suggest ways to thank the manager, showing modesty and plans for further improvement. Use polite and "
        "sincere language.",
    ),
    (
        "openqa",
        "Giving birth hurts far too much; I will never have children.",
        "Understand and respect the user's feelings; you may offer advice on coping with the emotional stress "
        "around childbirth. Keep the reply clear and easy to follow.",
    ),
    (
        "openqa",
        "When you hear the word 'innovation', which countries come to mind first?",
        "List the countries that come to mind and briefly say why each is linked to innovation. Keep the reply "
        "well organised and easy to understand.",
    ),
    (
        "openqa",
        "How does the game 'Sheep a Sheep' make money?",
        "Explain the game's business model in detail, focusing on advertising revenue. Keep the reply logical "
        "and well organised.",
    ),
    (
        "knowqa",
        "When was the Yuanjing large language model released?",
        "Give the release date of the Yuanjing model; you may briefly add some background.",
    ),
    (
        "knowqa",
        "What does heterogeneous diffusion mean?",
        "Explain what heterogeneous diffusion means; you may add how homogeneous diffusion works and what "
        "affects it. Keep the reply structured and logical.",
    ),
    (
        "knowqa",
        "In which year was Luo Yonghao born?",
        "Give Luo Yonghao's year of birth; you may add other basic facts about him.",
    ),
    (
        "knowqa",
        "How do I open the IP address settings in Windows 10?",
        "Describe the steps to reach the IP address settings in Windows 10; keep the reply clear, structured "
        "and easy to read.",
    ),
    (
        "bs",
        "Give 5 titles for this picture: golden clouds over a dark sea at sunset, fireworks, a starry sky "
        "and a cute little girl picking up shells, in a pastel fantasy style.",
        "Make sure the titles match the described scene and style; keep them creative, appealing and concise. "
        "Output an unordered list.",
    ),
    (
        "bs",
        "My daughter is called He Wanning and I am Yang Lifan. Suggest a new name for her: surname Yang, "
        "poetic, linked to both our names without reusing them, and easy to say.",
        "Follow the user's three requirements strictly: surname Yang, poetic and linked to the old names, "
        "meaningful and easy to pronounce.",
    ),
    (
        "bs",
        "Give 5 album titles of at most 10 characters for: immersive nightmare, ghosts, dark academia, "
        "twisted figures, urban decay, fisheye lens.",
        "Keep the titles close to the given themes; use creative, striking word combinations and stay concise. "
        "Output a markdown unordered list.",
    ),
    (
        "bs",
        "I need a 5-minute dark comedy script with one man and two women. Give me a synopsis, the "
        "highlights, the setting, the main plot, a subplot, a timeline and the emotional arc.",
        "Keep the script's structure clear and within the user's requirements, with a tight pace that fits a "
        "five-minute performance.",
    ),
    (
        "bs",
        "Give 10 specific, applied thesis titles in chemical engineering, under 25 words each, titles only, as JSON.",
        "Keep the titles concise and specific, meet every requirement of the user, respect the length limit "
        "and output JSON.",
    ),
    (
        "human_eval",
        "Give me a full analysis of the poet-emperor Li Yu.",
        "Analyse Li Yu's life, poetry, achievements, character, death and historical reputation, with evidence "
        "for each point, clearly organised.",
    ),
    (
        "human_eval",
        "What was Gwon Sang-ha's courtesy name?",
        "Give Gwon Sang-ha's courtesy name and briefly introduce his background and other achievements. Keep "
        "the reply clear and concise.",
    ),
    (
        "human_eval",
        "What does Putin mean to the Russian people?",
        "Consider Putin's influence on many aspects of Russia and his public image. Structure the reply "
        "clearly so that it is easy to follow.",
    ),
    (
        "human_eval",
        "Who are the four great poets of the Tang dynasty?",
        "List the four great Tang poets and briefly introduce each one's major works and contribution. Keep "
        "the reply clear and easy to follow.",
    ),
    (
        "human_eval",
        "What is Su Shi famous for?",
        "Describe Su Shi's achievements, character and famous works, so that his contribution is fully "
        "understood. Keep the reply clear and well planned.",
    ),
    (
        "human_event_eval",
        "Has Xu Jiayin gone bankrupt?",
        "Give the latest information on Xu Jiayin's finances and briefly analyse the causes and effects of a "
        "possible bankruptcy; keep the reply clear.",
    ),
    (
        "human_event_eval",
        "Why did Pony Ma decide to found Tencent?",
        "Analyse Pony Ma's motives for founding Tencent; you may add the market opportunities and competition "
        "of the time. Keep the reply logical.",
    ),
    (
        "human_event_eval",
        "Which railways did Sun Yat-sen build?",
        "List the railway projects Sun Yat-sen took part in or led, with their historical background and "
        "importance. Keep the reply well structured.",
    ),
    (
        "human_event_eval",
        "In which canteen does Tsinghua's famous 'goose-leg auntie' work?",
        "Give the canteen where she works; you may add why she became famous. Keep the reply short and clear.",
    ),
    (
        "human_event_eval",
        "How many times has Elon Musk married, and how many children does he have?",
        "Summarise Musk's marriages and children; keep the reply organised and easy to read.",
    ),
    (
        "human_event_eval",
        "Was Xiaomi's move into making cars a strategic mistake?",
        "Analyse both sides, with concrete examples as evidence for each point; keep the reply clearly "
        "structured and logical.",
    ),
    (
        "human_inpact_eval",
        "Why did Chen-Ning Yang win the Nobel Prize in physics, and what did he contribute?",
        "Analyse why Yang won from several angles and introduce his key results and their significance for "
        "later physics; keep the reply clearly structured.",
    ),
    (
        "human_inpact_eval",
        "Why is Garcia Marquez's style called magical realism?",
        "Analyse from several angles why his style is called magical realism, supporting each point with his "
        "works; keep the reply structured.",
    ),
    (
        "human_inpact_eval",
        "How would you evaluate Qin Shi Huang's influence on later Chinese history?",
        "Analyse his influence from several sides, with real evidence for each point; keep the reply clear.",
    ),
    (
        "human_inpact_eval",
        "How would you evaluate Xu Jiayin's influence on China's real-estate sector?",
        "Analyse his influence from several sides with detailed evidence; keep the reply logical and clear.",
    ),
    (
        "human_inpact_eval",
        "How would you rate Liu Guoliang's standing in table tennis?",
        "Analyse his standing from different angles, with solid evidence for each view; structure the reply "
        "for easy reading.",
    ),
    (
        "why",
        "Why can SpaceX iterate its Raptor engine so fast?",
        "Analyse the reasons from different angles, with concrete evidence and data for each point; make the "
        "reply structured and logical.",
    ),
    (
        "why",
        "Why do some people buy the iPhone 15 rather than a Huawei phone?",
        "Analyse from different angles with solid evidence for each point; you may organise the reply as "
        "structured text.",
    ),
    (
        "why",
        "Why do China's tens of millions of students not produce a Bill Gates, Steve Jobs or Elon Musk?",
        "Analyse the reasons in depth from several angles, with detailed evidence for each point; you may use "
        "structured text.",
    ),
    (
        "why",
        "Why does nobody talk about 5G any more?",
        "Discuss the specific reasons from several angles; keep the reply structured, logical and easy to read.",
    ),
    (
        "why",
        "Why doesn't the United States have high-speed rail?",
        "Give an in-depth analysis from several angles with a clear view, solid evidence and a complete "
        "argument; keep the reply layered and logical.",
    ),
    (
        "eval",
        "Do you think data labellers with a college diploma can really raise the 'IQ' of artificial intelligence?",
        "Consider the question from several aspects, each with a complete argument; structure the reply so it "
        "is clear and easy to read.",
    ),
    (
        "eval",
        "What do you think of quantum mechanics? Is it the truth about the world?",
        "Analyse it from different angles, support each point with solid evidence, and organise the reply as "
        "structured text.",
    ),
    (
        "eval",
        "How do you view business rules and moral principles? Share an ethical challenge you faced and "
        "how you solved it.",
        "Analyse the question from different aspects, with examples where useful. Keep the reply logical, "
        "structured and easy to understand.",
    ),
    (
        "eval",
        "What do you think is the significance of same-sex love?",
        "Analyse the question from several angles, each supported by clear examples. Keep the reply well "
        "organised and easy to read.",
    ),
    (
        "eval",
        "One kind of education teaches how to make a living, the other how to live. How do you understand this?",
        "Analyse it from several sides with solid arguments for each point; keep the reply logical, "
        "structured and easy to read.",
    ),
    (
        "sum",
        "Summarise character design in 10 words.",
        "Capture the core elements of character design, balancing creativity and practicality. Use concise, "
        "inspiring language and respect the word limit.",
    ),
    (
        "sum",
        "Summarise in under 10 words: Biden meets Xi Jinping and expresses concern about China's actions near Taiwan.",
        "Distil the core topic and the participants of the meeting in concise, precise language.",
    ),
    (
        "sum",
        "Summarise these news items: chaos at a concert entrance; three officials die in flood relief; a "
        "12-hour rescue; a university's research funds produce no results.",
        "Summarise the main events and their impact briefly, grouping them into themes such as disaster "
        "response and social issues. Keep the language concise.",
    ),
    (
        "sum",
        "Describe this work in one sentence: compare subsidy data with the platform, email the bank "
        "contacts, coordinate internal staff, answer policy questions.",
        "Condense the main duties, the key people and the key actions into one sentence that covers every element.",
    ),
    (
        "sum",
        "Summarise this more concisely: should we accept every issue? No; understand the motive, whether "
        "it blocks delivery and whether it matters to the customer.",
        "Turn the reasoning into a focused, logical summary that stresses selective acceptance and its "
        "criteria. Use a list.",
    ),
    (
        "write",
        "Write an official notice titled 'On the safe journey home of migrant workers for the Spring Festival'.",
        "A notice has an opening, a body and an ending: give the background, state the matters, then the "
        "requirements. Use formal, concise language.",
    ),
    (
        "write",
        "As an encyclopedia expert, answer 'Why did science flourish in the Song and Yuan dynasties?' in "
        "about 2500 words, each paragraph wrapped in <p></p>, ending with the given advert line.",
        "Keep the article clearly structured and coherent, rich and professional; wrap paragraphs in <p></p> "
        "and end with the required advert.",
    ),
    (
        "write",
        "I just reached this year's fitness goal. Write a post of at most 180 words for my social media "
        "that motivates my followers.",
        "Match the platform's style: genuine, lively and detailed, with emoji.",
    ),
    (
        "write",
        "Write an undergraduate thesis abstract on the search for life and death in 'My Temple of Earth'.",
        "An abstract covers background, aims, methods, conclusions, significance and keywords; keep it to one "
        "or two paragraphs of the usual length.",
    ),
    (
        "write",
        "Write an eloquent, moving essay titled 'Literature is a lamp' with parallel sections, "
        "mentioning three literary works.",
        "Follow the user's requirements: an essay with parallel sections whose middle parts each discuss one "
        "of the three works.",
    ),
    (
        "easy_logic",
        "Why does my wife hit me every time I go on a blind date?",
        "Note that this may be a logic-trap question.",
    ),
    (
        "easy_logic",
        "If I have class on Tomb-Sweeping Day, am I sweeping the tomb of my youth?",
        "This may be a playful joke by the user.",
    ),
    (
        "easy_logic",
        "Why did my mum take me out of her belly? Doesn't she want me any more?",
        "This may be a humorous logic-trap question.",
    ),
    ("easy_logic", "How high do I have to jump to skip an advert?", "This may be a humorous logic-trap question."),
    (
        "easy_logic",
        "Should I wear a half skirt on the left half or the right half of my body?",
        "Note that the user may be joking.",
    ),
    (
        "binary",
        "Should someone with a fake degree but strong skills be fired?",
        "Argue both for and against, each point with clear evidence; you may use structured language to layer "
        "the reply.",
    ),
    (
        "binary",
        "I have worked for 7 months without a labour contract. Can I claim compensation?",
        "Analyse the user's question with a clear position and a complete argument; you may use structured "
        "text so that it is easy to read.",
    ),
    (
        "binary",
        "Life is so tiring. Can I leave this world?",
        "Reply from a positive angle, with encouraging and supportive language.",
    ),
    (
        "binary",
        "The museum is on fire: do you save the cat or the painting first?",
        "Analyse from several angles with a detailed argument for each; keep the reply layered and structured.",
    ),
    (
        "rewrite",
        "Edit and polish this passage: <In a peaceful village, morning sunlight falls through the rice "
        "fields while an old man reads a book of poems in a pavilion.>",
        "The polished text must keep the core information without omissions or contradictions, with more "
        "elegant and richer writing.",
    ),
    (
        "rewrite",
        "Rewrite the following without repeating it too closely: On 5 January 2002 the director of the "
        "municipal office chaired a meeting on the use of the ground floor of 56 Shamian Street.",
        "Keep the style, length and main idea of the original while changing the wording; the overlap with the "
        "original must stay below 30%.",
    ),
    (
        "rewrite",
        "Expand an article on 'Scaffolded teaching in junior high English writing' from the research "
        "background I give below.",
        "Follow the user's content requirements strictly, without omissions or contradictions; watch the "
        "length and structure the reply.",
    ),
    (
        "rewrite",
        "You are an e-commerce query rewriter: rewrite each input query so that it finds the right "
        "products (knowledge, semantic, correction, word-dropping or no rewrite).",
        "Follow the user's examples; the output must meet the requirements and use the output format the user defined.",
    ),
)
